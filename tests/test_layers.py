"""The layering of README "Development" (civic -> web -> federation -> activities -> node) and lint hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_layers__the_contract_has_no_exceptions():
    """The layers contract lists no ignore_imports: nothing is exempt from it."""
    assert "ignore_imports" not in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_layers__import_linter_contract_is_kept():
    """import-linter's layers contract (pyproject.toml) passes on the whole tree."""
    result = subprocess.run([str(BIN / "lint-imports")], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_layers__node_imports_no_upper_layer_outside_the_composition_root():
    """node imports no upper layer at all: the composition root is its own package (civic)."""
    offenders = []
    for path in (ROOT / "node").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for layer in ("web", "federation", "activities"):
            if f"from {layer}" in text or f"import {layer}" in text:
                offenders.append(f"{path.relative_to(ROOT)} imports {layer}")
    assert offenders == []
