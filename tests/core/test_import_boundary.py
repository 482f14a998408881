"""The layering rule: ``gharart_core`` imports only the stdlib, attrs, idna and ua_parser."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
CORE = SRC / "gharart_core"
ALLOWED_THIRD_PARTY = {"attrs", "idna", "ua_parser"}
FORBIDDEN = ("litestar", "sqlalchemy", "httpx", "dependency_injector", "cattrs", "adapters", "entrypoints",
             "alembic", "aiosqlite", "asyncpg", "granian", "uvicorn", "typer", "rich", "jwt")


def _core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_tree_is_not_empty() -> None:
    assert len(_core_modules()) > 5


@pytest.mark.parametrize("path", _core_modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_core_module_imports_only_allowed_packages(path: Path) -> None:
    allowed = set(sys.stdlib_module_names) | ALLOWED_THIRD_PARTY | {"gharart_core", "__future__"}
    bad = sorted(_imported_roots(path) - allowed)
    assert not bad, f"{path.relative_to(SRC)} imports {bad}; the core may import only stdlib + {ALLOWED_THIRD_PARTY}"


def _run(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         check=True)
    return out.stdout


def test_importing_every_core_module_loads_no_framework() -> None:
    code = f"""
import importlib, json, pkgutil, sys
import gharart_core
for m in pkgutil.walk_packages(gharart_core.__path__, "gharart_core."):
    importlib.import_module(m.name)
forbidden = {FORBIDDEN!r}
print(json.dumps(sorted({{n.split('.')[0] for n in sys.modules}} & set(forbidden))))
"""
    assert json.loads(_run(code)) == []


def test_plain_import_of_the_core_is_light() -> None:
    code = f"""
import json, sys
import gharart_core
print(json.dumps(sorted({{n.split('.')[0] for n in sys.modules}} & set({FORBIDDEN!r}))))
"""
    assert json.loads(_run(code)) == []


def test_entrypoints_is_ours_not_the_old_pypi_distribution() -> None:
    import entrypoints

    assert entrypoints.__file__ is not None
    assert Path(entrypoints.__file__).resolve().is_relative_to(SRC), entrypoints.__file__
    # and in a fresh interpreter on the project path, too
    assert Path(_run("import entrypoints; print(entrypoints.__file__)").strip()).resolve().is_relative_to(SRC)
