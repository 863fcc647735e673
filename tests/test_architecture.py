"""The layers stay visible: a walk over every module's imports keeps the dependency direction
of docs/architecture.md (web, cli -> wiring -> tokens -> services -> domain, catalog, oauth,
crypto, storage, ...), with no import circle; and every table a cached handout is read from
bumps the cache epoch."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table, event, text
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.visitors import iterate

from support.api import connection_body, keyring_spec, make_user
from tokendesk.config import Settings
from tokendesk.crypto import KeyRing
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind, TokenSet
from tokendesk.services.inputs import ConnectionCreate, RoleCreate
from tokendesk.storage.tables import cache_epoch
from tokendesk.wiring import Tokendesk, build

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
        "services": (
            "tokendesk.web",
            "tokendesk.cli",
            "tokendesk.tokens",
            "tokendesk.wiring",
            "fastapi",
            "starlette",
            "typer",
            "click",
        ),
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


def test_aiohttp_is_imported_only_in_the_layer_that_talks_to_providers() -> None:
    # The API proxy's HTTP client (oauth/api_client.py) stays behind oauth/, whose errors
    # and responses are ours; nothing above it sees an aiohttp type.
    outside = sorted(
        str(path.relative_to(PACKAGE))
        for path in modules()
        if layer(path) != "oauth"
        and any(name == "aiohttp" or name.startswith("aiohttp.") for name in imports_of(path))
    )
    assert outside == []


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


# --- the layer order ---------------------------------------------------------------------

# Highest first. A module may import its own top-level package and any layer below its own;
# the bottom layer's parts import one another as ``forbidden`` above allows. The CLI sits
# above the web app only because ``tokendesk serve`` starts it; the web never imports the CLI.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"cli"}),
    frozenset({"web"}),
    frozenset({"wiring"}),
    # notifications: the outbox dispatcher and webhook deliverer, beside the token lifecycle
    frozenset({"tokens", "notifications"}),
    frozenset({"services"}),
    frozenset(
        {
            "domain", "catalog", "oauth", "crypto", "storage",
            "errors", "config", "logs", "metrics", "views", "__init__",
        }
    ),
)
# The SDK bots use stands apart: it imports nothing of the server (see ``forbidden``), and
# only the CLI uses it (``tokendesk token`` asks a running server, as a bot would) -- but for
# its wire format, which the server imports so both read and write one definition.
APART = frozenset({"client"})
SHARED_WIRE = "tokendesk.client.wire"
BOTTOM = len(LAYERS) - 1
# What talks to authorization servers: an operation that takes ``tx`` never may.
PROVIDER_CALLERS = frozenset({"OAuthClient", "Outbound"})


def top_level_parts(package: Path = PACKAGE) -> set[str]:
    """The modules and packages directly under ``tokendesk``."""
    return {
        p.name.removesuffix(".py")
        for p in package.iterdir()
        if (p.suffix == ".py") or (p.is_dir() and (p / "__init__.py").exists())
    }


def rank(part: str) -> int | None:
    return next((i for i, parts in enumerate(LAYERS) if part in parts), None)


def layer_violations(path: Path, package: Path = PACKAGE) -> list[str]:
    """The imports of ``path`` that reach a higher layer or a peer of the same layer."""
    own = layer(path, package)
    own_rank = rank(own)
    if own_rank is None:
        return []
    found = []
    for name in sorted(imports_of(path)):
        if not name.startswith("tokendesk."):
            continue
        other = name.split(".")[1]
        other_rank = rank(other)
        if other == own or (other_rank is not None and other_rank > own_rank):
            continue
        if other_rank == own_rank == BOTTOM or (other in APART and own_rank == 0):
            continue
        if name == SHARED_WIRE:
            continue
        found.append(name)
    return found


def provider_callers_imported(path: Path) -> list[str]:
    """The names of what calls a provider that ``path`` imports (or could reach)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tokendesk.oauth"):
            found += [a.name for a in node.names if a.name in PROVIDER_CALLERS or a.name == "*"]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("tokendesk.oauth")]
    return sorted(found)


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["tokendesk", *parts])


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    paths = sorted(package.rglob("*.py"))
    known = {module_name(p, package) for p in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in known)
            elif isinstance(node, ast.ImportFrom) and node.module in known and node.level == 0:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    edges.add(sub if sub in known else node.module)
        graph[module_name(path, package)] = edges - {module_name(path, package)}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph``: its strongly connected parts of two or more modules
    (Tarjan's algorithm, iterative so a deep chain cannot overflow the stack)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                part = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    part.append(member)
                    if member == node:
                        break
                if len(part) > 1:
                    found.append(sorted(part))
    return found


def test_every_top_level_module_is_assigned_to_a_layer() -> None:
    assigned = set().union(*LAYERS) | APART

    assert sorted(top_level_parts() - assigned) == []


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_module_imports_only_its_own_layer_or_those_below(path: Path) -> None:
    assert layer_violations(path) == []


def test_there_is_no_import_circle() -> None:
    assert circles(import_graph()) == []


# Framework applications are configured through their public seams (middleware, routes,
# exception handlers), never subclassed to override how they build themselves.
FRAMEWORK_APPS = frozenset({"FastAPI", "Starlette"})
FRAMEWORK_INTERNALS = frozenset({"build_middleware_stack"})


def framework_overrides(path: Path) -> list[str]:
    """The classes of ``path`` that subclass a framework application, and the methods that
    override one of its internals."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef):
            bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "")
                     for b in node.bases}
            found += [f"{node.name}({base})" for base in sorted(bases & FRAMEWORK_APPS)]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                node.name in FRAMEWORK_INTERNALS:
            found.append(node.name)
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_overrides_a_framework_internal(path: Path) -> None:
    assert framework_overrides(path) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("class App(FastAPI):\n    pass", ["App(FastAPI)"]),
        ("class App(starlette.applications.Starlette):\n    pass", ["App(Starlette)"]),
        ("class App:\n    def build_middleware_stack(self): ...", ["build_middleware_stack"]),
        ("class Front:\n    async def __call__(self, scope, receive, send): ...", []),
    ],
)
def test_the_walk_catches_a_framework_override(
    tmp_path: Path, source: str, expected: list[str]
) -> None:
    module = tmp_path / "app.py"
    module.write_text(source)

    assert framework_overrides(module) == expected


@pytest.mark.parametrize(
    "path", sorted((PACKAGE / "services").rglob("*.py")), ids=lambda p: p.name
)
def test_services_which_take_a_transaction_never_reach_a_provider(path: Path) -> None:
    assert provider_callers_imported(path) == []


def test_an_unassigned_top_level_module_is_caught(tmp_path: Path) -> None:
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "__init__.py").write_text("")
    (tmp_path / "errors.py").write_text("")

    assert top_level_parts(tmp_path) - set().union(*LAYERS) == {"plugins"}


@pytest.mark.parametrize(
    ("where", "source", "expected"),
    [
        ("services/up.py", "from tokendesk.tokens import refresh", ["tokendesk.tokens"]),
        ("tokens/up.py", "from tokendesk.wiring import build", ["tokendesk.wiring"]),
        ("storage/up.py", "import tokendesk.services.audit", ["tokendesk.services.audit"]),
        ("web/up.py", "from tokendesk.cli import main", ["tokendesk.cli"]),
        ("web/sdk.py", "from tokendesk.client import Client", ["tokendesk.client"]),
        ("cli/sdk.py", "from tokendesk.client import Client", []),
        ("web/wire.py", "from tokendesk.client.wire import TokenWire", []),
        ("tokens/sdk.py", "from tokendesk.client.core import Client", ["tokendesk.client.core"]),
        ("domain/peer.py", "from tokendesk.crypto import KeyRing", []),
        ("web/down.py", "from tokendesk.wiring import Tokendesk", []),
        ("storage/peer.py", "from tokendesk.domain import tokens", []),
    ],
)
def test_the_layer_walk_catches_an_import_upwards(
    tmp_path: Path, where: str, source: str, expected: list[str]
) -> None:
    module = tmp_path / where
    module.parent.mkdir(parents=True)
    module.write_text(source)

    assert layer_violations(module, package=tmp_path) == expected


def test_the_circle_walk_catches_a_circle(tmp_path: Path) -> None:
    for name, source in {
        "__init__.py": "",
        "a.py": "from tokendesk.b import B",
        "b.py": "from tokendesk import c",
        "c.py": "import tokendesk.a\nimport tokendesk.d",
        "d.py": "",
    }.items():
        (tmp_path / name).write_text(source)

    assert circles(import_graph(tmp_path)) == [["tokendesk.a", "tokendesk.b", "tokendesk.c"]]


def test_the_walk_catches_a_service_holding_the_oauth_client(tmp_path: Path) -> None:
    module = tmp_path / "leaky.py"
    module.write_text("from tokendesk.oauth.client import ClientSpec, OAuthClient")

    assert provider_callers_imported(module) == ["OAuthClient"]


# --- the cache-invalidation contract -------------------------------------------------------


def epoch_triggered_tables(engine: Engine) -> set[str]:
    """The tables of the migrated database with a trigger that bumps the cache epoch."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(
                text("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
            )
            return {table for table, sql in rows if "cache_epoch" in (sql or "")}
        rows = conn.execute(
            text(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_proc p ON p.oid = t.tgfoid "
                "WHERE NOT t.tgisinternal AND p.proname = 'bump_cache_epoch'"
            )
        )
        return {table for (table,) in rows}


@contextmanager
def tables_read(engine: Engine) -> Iterator[set[str]]:
    """The tables of ``metadata`` that SELECT statements on ``engine`` read inside the block."""
    found: set[str] = set()

    def record(conn: Any, statement: Any, *args: Any) -> None:
        if isinstance(statement, ClauseElement) and getattr(statement, "is_select", False):
            found.update(
                element.name for element in iterate(statement) if isinstance(element, Table)
            )

    event.listen(engine, "before_execute", record)
    try:
        yield found
    finally:
        event.remove(engine, "before_execute", record)


@pytest.fixture
def desk(database_url: str, tmp_path: Path) -> Iterator[Tokendesk]:
    app = build(
        Settings(
            database_url=database_url,
            data_dir=tmp_path / "data",
            public_url="https://tokendesk.example.test",
            encryption_keys=keyring_spec(KeyRing.generate()),  # type: ignore[arg-type]
        )
    )
    yield app
    app.close()


def tables_a_cached_handout_is_read_from(td: Tokendesk) -> set[str]:
    """Hand a shared token to an invited bot the full way (as the cache remembers it) and
    return the tables read, the cache epoch itself aside."""
    with td.transaction() as tx:
        td.accounts.create_role(tx, command_line_principal(), RoleCreate(name="Bots"))
    key = make_user(td, "report-bot", roles=["Bots"])
    with td.transaction() as tx:
        connection = td.connections.create(
            tx, command_line_principal(),
            ConnectionCreate(**connection_body(invited_roles=["Bots"])),
        )
        td.tokens.store(tx, connection, TokenKind.SHARED, None, TokenSet(
            Secret("at-1"), "Bearer", td.clock() + timedelta(hours=1), Secret("rt-1"),
        ))
    with tables_read(td.engine) as found:
        handout = td.hot.handout(key, "Salesforce prod", TokenKind.SHARED)
    assert handout.access_token.reveal() == "at-1"
    return found - {cache_epoch.name}


def untriggered(read: set[str], triggered: set[str]) -> list[str]:
    return sorted(read - triggered)


def test_every_table_a_cached_handout_is_read_from_bumps_the_cache_epoch(
    desk: Tokendesk,
) -> None:
    read = tables_a_cached_handout_is_read_from(desk)

    assert {"api_keys", "connections", "tokens"} <= read  # the recording sees the handout
    assert untriggered(read, epoch_triggered_tables(desk.engine)) == []


def test_a_table_read_by_the_handout_without_an_epoch_trigger_is_caught(
    desk: Tokendesk,
) -> None:
    read = tables_a_cached_handout_is_read_from(desk)
    with desk.engine.begin() as conn:
        if desk.engine.dialect.name == "sqlite":
            for event_name in ("insert", "update", "delete"):
                conn.execute(text(f"DROP TRIGGER epoch_connection_roles_{event_name}"))
        else:
            conn.execute(text("DROP TRIGGER epoch_connection_roles ON connection_roles"))
    try:
        assert untriggered(read, epoch_triggered_tables(desk.engine)) == ["connection_roles"]
    finally:
        if desk.engine.dialect.name != "sqlite":  # the session's one database: put it back
            with desk.engine.begin() as conn:
                conn.execute(text(
                    "CREATE TRIGGER epoch_connection_roles AFTER INSERT OR DELETE OR UPDATE "
                    "ON connection_roles FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch()"
                ))


def test_every_table_the_api_proxys_remembered_target_is_read_from_bumps_the_cache_epoch(
    desk: Tokendesk,
) -> None:
    """The API proxy keeps each connection's target (API base URL, forward proxy or own
    proxy, egress allowlist) for one epoch (tokens/api_targets.py): a change to any table it
    was read from must move the epoch."""
    with desk.transaction() as tx:
        connection = desk.connections.create(
            tx, command_line_principal(), ConnectionCreate(**connection_body()),
        )
    epoch = desk.hot.epoch
    with tables_read(desk.engine) as found:
        target = desk.api_proxy.targets.load(connection.id, connection.name, epoch)
    assert target.name == "Salesforce prod"

    assert {"connections", "forward_proxy", "egress_allowlist"} <= found
    assert untriggered(found - {cache_epoch.name}, epoch_triggered_tables(desk.engine)) == []


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
