"""Starting Tokendesk: first start sets everything up; a wrong or missing key refuses to start
and changes nothing; unsafe settings are refused."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from pathlib import Path

import pytest

from support.api import keyring_spec
from support.processes import tokendesk_executable
from tokendesk.config import Settings, load_settings
from tokendesk.crypto import KeyRing
from tokendesk.errors import ConfigurationError, EncryptionKeyError
from tokendesk.wiring import build, ensure_first_administrator


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def first_start(data_dir: Path) -> None:
    td = build(Settings(data_dir=data_dir))
    ensure_first_administrator(td)
    td.close()


def test_the_first_start_creates_the_key_ring_the_database_and_an_administrator(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"

    td = build(Settings(data_dir=data))
    password_file = ensure_first_administrator(td)
    td.close()

    assert stat.S_IMODE((data / "keyring.json").stat().st_mode) == 0o600
    assert (data / "tokendesk.sqlite3").exists()
    assert password_file is not None and stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert len(password_file.read_text().strip()) >= 20


def test_a_second_start_with_the_same_key_ring_works_and_creates_no_second_admin(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    first_start(data)

    td = build(Settings(data_dir=data))
    again = ensure_first_administrator(td)
    td.close()

    assert again is None


def test_a_wrong_key_refuses_to_start_and_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first_start(data)
    database = data / "tokendesk.sqlite3"
    before = digest(database), digest(data / "keyring.json")
    wrong = keyring_spec(KeyRing.generate())

    with pytest.raises(EncryptionKeyError) as refused:
        build(Settings(data_dir=data, encryption_keys=wrong))  # type: ignore[arg-type]

    assert "belongs to this database" in refused.value.message
    assert (digest(database), digest(data / "keyring.json")) == before


def test_a_lost_key_ring_file_is_not_replaced_by_a_new_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first_start(data)
    (data / "keyring.json").unlink()

    with pytest.raises(EncryptionKeyError):
        build(Settings(data_dir=data))

    assert not (data / "keyring.json").exists()


def test_the_same_key_id_with_other_material_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first_start(data)
    ring = KeyRing.from_json((data / "keyring.json").read_text())
    impostor = keyring_spec(KeyRing.generate(ring.active_key_id))

    with pytest.raises(EncryptionKeyError, match="not the key this database was written with"):
        build(Settings(data_dir=data, encryption_keys=impostor))  # type: ignore[arg-type]


def test_a_key_ring_readable_by_others_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first_start(data)
    os.chmod(data / "keyring.json", 0o644)

    with pytest.raises(EncryptionKeyError, match="chmod 600"):
        build(Settings(data_dir=data))


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("TOKENDESK_ENCRYPTION_KEYS", "changeme", "placeholder"),
        ("TOKENDESK_PUBLIC_URL", "http://tokendesk.example.com", "https"),
        ("TOKENDESK_PUBLIC_URL", "tokendesk.example.com", "absolute"),
        ("TOKENDESK_PORT", "99999", "TOKENDESK_PORT"),
    ],
)
def test_unsafe_settings_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, words: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigurationError) as refused:
        load_settings()

    assert words in refused.value.message


def test_the_callback_url_comes_from_the_public_url() -> None:
    settings = Settings(public_url="https://desk.example.com/")

    assert settings.callback_url == "https://desk.example.com/oauth/callback"


def test_serve_with_a_wrong_key_exits_with_one_clear_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first_start(data)
    env = {
        **os.environ,
        "TOKENDESK_DATA_DIR": str(data),
        "TOKENDESK_ENCRYPTION_KEYS": keyring_spec(KeyRing.generate()),
    }

    done = subprocess.run(
        [tokendesk_executable(), "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 78
    assert done.stderr.strip().startswith("error: ")
    assert "Traceback" not in done.stderr


def test_the_first_start_keeps_the_data_folder_and_database_private(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the common default, under which files come out 0644
    try:
        first_start(tmp_path / "data")
    finally:
        os.umask(previous)

    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("tokendesk.sqlite3", "tokendesk.sqlite3-wal", "keyring.json"):
        if (data / name).exists():  # the WAL file may be checkpointed away at close
            assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    assert (data / "tokendesk.sqlite3").exists()


def test_a_database_file_given_elsewhere_is_created_private_too(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        td = build(Settings(data_dir=tmp_path / "data",
                            database_url=f"sqlite:///{(tmp_path / 'db' / 'desk.db').as_posix()}"))
        td.close()
    finally:
        os.umask(previous)

    assert stat.S_IMODE((tmp_path / "db").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "db" / "desk.db").stat().st_mode) == 0o600
