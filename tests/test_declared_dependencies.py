"""Every library the product imports is declared in pyproject.toml's dependencies, so an
installation never works only because another package happened to pull it in (issue 10:
``httpcore`` was imported but not declared)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "tokendesk"


def normalised(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(pyproject: Path) -> set[str]:
    """The distribution names of the project's runtime dependencies."""
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return {normalised(re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0]) for spec in dependencies}


def imported_top_level_modules(package: Path) -> set[str]:
    """Top-level names of every absolute import in ``package``, ours and the stdlib left out."""
    found: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {name for name in found
            if name not in sys.stdlib_module_names and name not in {"tokendesk", "__future__"}}


def undeclared(package: Path, pyproject: Path) -> list[str]:
    """Imported modules whose distribution is not a declared dependency."""
    distributions = packages_distributions()
    wanted = declared(pyproject)
    return sorted(
        module for module in imported_top_level_modules(package)
        if not {normalised(d) for d in distributions.get(module, [module])} & wanted
    )


def test_every_library_the_product_imports_is_a_declared_dependency() -> None:
    assert undeclared(PACKAGE, ROOT / "pyproject.toml") == []


def test_an_imported_but_undeclared_library_is_caught(tmp_path: Path) -> None:
    package = tmp_path / "tokendesk"
    package.mkdir()
    (package / "transport.py").write_text("import httpcore\nimport httpx\nimport json\n")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["httpx>=0.27,<0.29"]\n')
    assert undeclared(package, pyproject) == ["httpcore"]
