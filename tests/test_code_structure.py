"""Code structure rules that review would otherwise have to re-check: private names stay in their module."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "skyhunt"


def _modules():
    return sorted(SRC.rglob("*.py"))


def test_no_private_name_is_imported_from_another_module():
    """A helper used outside its module is public (in the right home), not imported as ``_name``."""
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("skyhunt"):
                offenders += [
                    f"{path.relative_to(SRC)}: {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_")
                ]
    assert not offenders
