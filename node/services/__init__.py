"""Domain services: each function runs inside a caller's transaction (an AsyncSession)."""
