"""Secrets at rest: the raw database holds no plaintext; a ciphertext moved to another row
or with a flipped byte breaks only that token, with a clear error, and the service stays up."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from support.api import make_user
from support.desk import BOT_ROLE, Desk
from tokendesk.storage.tables import connections, tokens


def two_shared_tokens(desk: Desk) -> None:
    for name in ("Reports A", "Reports B"):
        desk.create_connection(name, "cc-basic")
        desk.admin.post(f"/connections/{name}/test", json={"save_credentials": True})


def token_rows(desk: Desk) -> dict[str, dict[str, object]]:
    with desk.server.td.engine.connect() as conn:
        rows = conn.execute(select(tokens, connections.c.name).join(
            connections, connections.c.id == tokens.c.connection_id)).all()
    return {row.name: dict(row._mapping) for row in rows}


def set_access_ciphertext(desk: Desk, token_id: object, value: object) -> None:
    with desk.server.td.engine.begin() as conn:
        conn.execute(update(tokens).where(tokens.c.id == token_id).values(access_token_ct=value))


def test_the_same_secret_stored_twice_gives_different_ciphertexts(desk: Desk) -> None:
    cc = desk.oauth.clients["cc-basic"]
    two_shared_tokens(desk)

    with desk.server.td.engine.connect() as conn:
        stored = [row.client_secret_ct for row in conn.execute(select(connections))]

    assert len(set(stored)) == 2
    assert all(cc.client_secret not in value for value in stored)


def test_a_ciphertext_copied_to_another_row_breaks_only_that_token(desk: Desk) -> None:
    two_shared_tokens(desk)
    rows = token_rows(desk)
    set_access_ciphertext(desk, rows["Reports B"]["id"], rows["Reports A"]["access_token_ct"])

    moved = desk.bot.get("/connections/Reports B/token")
    other = desk.bot.get("/connections/Reports A/token")
    health = desk.bot.get("/health")

    assert moved.status_code == 409
    assert moved.json()["error"]["code"] == "token_corrupted"
    # A client-credentials connection: nobody can authenticate it again; the advice works.
    assert "disconnect it: the next request fetches a new one" in moved.json()["error"]["message"]
    assert moved.json()["error"]["state"] == "damaged"
    assert other.status_code == 200
    assert health.status_code == 200
    assert desk.admin.get("/connections/Reports B/tokens").json()[0]["status"] == "corrupted"
    assert desk.admin.delete("/connections/Reports B/tokens/shared").status_code in (200, 204)
    assert desk.bot.get("/connections/Reports B/token").status_code == 200


def test_a_flipped_byte_breaks_only_that_token(desk: Desk) -> None:
    two_shared_tokens(desk)
    rows = token_rows(desk)
    stored = str(rows["Reports A"]["access_token_ct"])
    flipped = stored[:-5] + ("A" if stored[-5] != "A" else "B") + stored[-4:]
    set_access_ciphertext(desk, rows["Reports A"]["id"], flipped)

    broken = desk.bot.get("/connections/Reports A/token")
    fine = desk.bot.get("/connections/Reports B/token")

    assert broken.json()["error"]["code"] == "token_corrupted"
    assert fine.status_code == 200


def test_the_raw_sqlite_file_holds_no_plaintext_secret(desk: Desk) -> None:
    two_shared_tokens(desk)
    make_user(desk.server.td, "carol", roles=[BOT_ROLE])
    handed = desk.bot.get("/connections/Reports A/token").json()["access_token"]
    path = desk.server.td.engine.url.database
    if desk.server.td.engine.dialect.name != "sqlite" or not path:
        with desk.server.td.engine.connect() as conn:
            dump = "\n".join(str(tuple(r)) for table in (tokens, connections)
                             for r in conn.execute(select(table)))
    else:
        desk.server.td.engine.dispose()  # checkpoint nothing away: read file and WAL as they are
        files = [Path(path), Path(path + "-wal")]
        dump = "".join(f.read_bytes().decode("latin-1") for f in files if f.exists())

    assert handed not in dump
    assert desk.oauth.clients["cc-basic"].client_secret not in dump
