"""Server-to-server: signatures, discovery, inbox, delivery, remote fetch."""
