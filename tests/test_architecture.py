"""The layers stay visible: a walk over every module's imports keeps the dependency direction
of CONVENTIONS.md (cli, web -> services -> domain, catalog, oauth, crypto, storage)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "tokendesk"


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def layer(path: Path, package: Path = PACKAGE) -> str:
    return path.relative_to(package).parts[0].removesuffix(".py")


def forbidden(path: Path, package: Path = PACKAGE) -> list[str]:
    """The imports of ``path`` its layer may not have."""
    rules: dict[str, tuple[str, ...]] = {
        "domain": ("tokendesk.", "sqlalchemy", "httpx", "fastapi", "typer", "starlette"),
        "catalog": (
            "tokendesk.storage",
            "tokendesk.services",
            "tokendesk.web",
            "tokendesk.cli",
            "tokendesk.oauth",
            "sqlalchemy",
            "httpx",
        ),
        "oauth": (
            "tokendesk.storage",
            "tokendesk.services",
            "tokendesk.web",
            "tokendesk.cli",
            "sqlalchemy",
            "fastapi",
        ),
        "storage": (
            "tokendesk.services",
            "tokendesk.web",
            "tokendesk.cli",
            "tokendesk.oauth",
            "httpx",
            "fastapi",
        ),
        "services": ("tokendesk.web", "tokendesk.cli", "fastapi", "starlette", "typer"),
        "web": ("tokendesk.storage", "tokendesk.oauth", "sqlalchemy", "typer"),
        "cli": ("tokendesk.storage", "tokendesk.oauth", "sqlalchemy", "fastapi"),
        "client": ("tokendesk.",),
    }
    allowed = {
        "domain": ("tokendesk.errors", "tokendesk.domain"),
        "client": ("tokendesk.client",),
    }.get(layer(path, package), ())
    bad = rules.get(layer(path, package), ())
    return sorted(
        name
        for name in imports_of(path)
        if any(
            name == b.rstrip(".") or name.startswith(b if b.endswith(".") else b + ".") or name == b
            for b in bad
        )
        and not any(name == a or name.startswith(a + ".") for a in allowed)
    )


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_module_imports_only_from_the_layers_below_it(path: Path) -> None:
    assert forbidden(path) == []


@pytest.mark.parametrize(
    ("where", "source", "expected"),
    [
        ("client/leak.py", "from tokendesk.services import tokens", ["tokendesk.services"]),
        ("web/sql.py", "import sqlalchemy", ["sqlalchemy"]),
        ("domain/io.py", "import httpx\nfrom tokendesk.errors import NotFound", ["httpx"]),
        ("services/edge.py", "from fastapi import Request", ["fastapi"]),
    ],
)
def test_the_walk_catches_a_violation(
    tmp_path: Path, where: str, source: str, expected: list[str]
) -> None:
    module = tmp_path / where
    module.parent.mkdir(parents=True)
    module.write_text(source)

    assert forbidden(module, package=tmp_path) == expected


def test_no_fault_injection_switch_ships_in_the_product() -> None:
    """Tests crash Tokendesk from outside (SIGKILL from the test); the product never kills its
    own process and has no setting meant for tests only."""
    from tokendesk.config import Settings

    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in {"kill", "killpg", "abort"}:
                pytest.fail(f"{path.relative_to(PACKAGE)} kills a process (line {node.lineno})")
    for name, field in Settings.model_fields.items():
        assert "test" not in (field.description or "").lower(), name
