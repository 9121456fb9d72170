"""Packages depend one way (issue 14): the import-linter contract in pyproject.toml holds and
names every package, core imports no feature package, and every hook a lower package asks is
answered once the app is built."""

import ast
import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from exchange.accounts.models import Role
from exchange.core.hooks import Hook

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "exchange" / "core"
# What core may import from exchange: itself and the uninitialised extensions.
CORE_MAY_IMPORT = {"core", "extensions"}


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def _exchange_imports(path):
    """The first package name under exchange of each import in `path` (anywhere in it)."""
    depth = len(path.relative_to(ROOT / "exchange").parts) - 1
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            if node.level == depth + 1:
                found.add((node.module or node.names[0].name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("exchange."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("exchange.")}
    return found


def test_core_imports_no_feature():
    offenders = {
        path.name: sorted(_exchange_imports(path) - CORE_MAY_IMPORT)
        for path in sorted(CORE.glob("*.py"))
    }
    assert {name: used for name, used in offenders.items() if used} == {}


def test_role_groups_are_not_roles():
    assert [r.value for r in Role] == ["student", "advisor", "coordinator", "admin"]
    assert set(Role.STAFF) < set(Role.APPROVERS)


def _contract_layers():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = config["tool"]["importlinter"]["contracts"]
    return {name.strip() for layer in contract["layers"] for name in layer.split(":")}


def test_every_package_has_its_layer():
    packages = {
        f"exchange.{path.parent.name}" for path in (ROOT / "exchange").glob("*/__init__.py")
    }
    assert packages - _contract_layers() == set()


def _hooks():
    for path in sorted((ROOT / "exchange").glob("*/hooks.py")):
        module = importlib.import_module(f"exchange.{path.parent.name}.hooks")
        yield from (value for value in vars(module).values() if isinstance(value, Hook))


def test_every_hook_is_provided_by_a_higher_package(app):
    hooks = list(_hooks())
    assert {h.name.split(".")[0] for h in hooks} >= {"catalogue", "calls", "chains"}
    assert [h.name for h in hooks if not h.provided] == []


def test_a_hook_nobody_provides_says_so():
    hook = Hook("test.nobody")
    with pytest.raises(LookupError, match="Nothing provides the hook test.nobody"):
        hook()
    hook.provide(lambda n: n + 1)
    assert hook(1) == 2
