"""The PostgreSQL database of the tests is emptied between tests like a fresh migration."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, inspect, select, table

from support.api import ADMIN_PASSWORD, keyring_spec
from support.databases import SEEDED_TABLES, empty_all_tables
from support.passwords import CHEAP_PASSWORDS
from tokendesk.config import Settings
from tokendesk.crypto import KeyRing
from tokendesk.domain.principal import command_line_principal
from tokendesk.storage.tables import audit_events
from tokendesk.wiring import build

KEPT = SEEDED_TABLES | {"alembic_version"}


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        names = inspect(conn).get_table_names()
        return {name: conn.execute(select(func.count()).select_from(table(name))).scalar_one()
                for name in names}


@pytest.mark.postgres
def test_emptying_leaves_only_the_seeded_rows_and_restarts_the_ids(
    postgres_session_database: Engine, tmp_path: Path
) -> None:
    engine = postgres_session_database
    empty_all_tables(engine)
    seeded = {name: count for name, count in row_counts(engine).items() if name in KEPT}
    td = build(Settings(database_url=engine.url.render_as_string(hide_password=False),
                        data_dir=tmp_path / "data", public_url="https://tokendesk.example.test",
                        encryption_keys=keyring_spec(KeyRing.generate())),  # type: ignore[arg-type]
               passwords=CHEAP_PASSWORDS)
    try:
        with td.transaction() as tx:
            td.accounts.bootstrap_admin(tx, command_line_principal(), "admin", ADMIN_PASSWORD)
    finally:
        td.close()
    assert any(count for name, count in row_counts(engine).items() if name not in KEPT)

    empty_all_tables(engine)

    counts = row_counts(engine)
    assert {name: n for name, n in counts.items() if name not in KEPT and n} == {}
    assert {name: n for name, n in counts.items() if name in KEPT} == seeded
    with engine.begin() as conn:
        first = conn.execute(audit_events.insert().values(
            at=func.now(), actor="tests", via="cli", action="probe", target_type="none",
            target="none", outcome="ok", details={},
        ).returning(audit_events.c.id)).scalar_one()
    empty_all_tables(engine)
    assert first == 1
