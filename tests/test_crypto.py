"""Encryption at rest: AES-256-GCM, a key id per ciphertext, the row bound as associated data."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from tokendesk.crypto import (
    KEY_BYTES,
    KeyRing,
    RowRef,
    key_id_of,
    load_or_create_keyring,
    write_keyring,
)
from tokendesk.errors import DecryptionError, EncryptionKeyError

SECRET = "client-secret-Zq8!"
REF = RowRef("connections", "client_secret_ct", "c0nn3ct10n")


def b64(material: bytes) -> str:
    return base64.urlsafe_b64encode(material).decode()


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate("k1")


def test_a_value_decrypts_to_what_was_encrypted(ring: KeyRing) -> None:
    assert ring.decrypt(ring.encrypt(SECRET, REF), REF) == SECRET


def test_unicode_and_empty_values_round_trip(ring: KeyRing) -> None:
    for value in ("", "päss wörd ✓", "x" * 10_000):
        assert ring.decrypt(ring.encrypt(value, REF), REF) == value


def test_the_same_plaintext_twice_gives_different_ciphertexts(ring: KeyRing) -> None:
    assert ring.encrypt(SECRET, REF) != ring.encrypt(SECRET, REF)


def test_the_ciphertext_names_its_key_and_hides_the_plaintext(ring: KeyRing) -> None:
    stored = ring.encrypt(SECRET, REF)
    assert stored.startswith("v1:k1:")
    assert key_id_of(stored) == "k1"
    assert SECRET not in stored


@pytest.mark.parametrize(
    "elsewhere",
    [
        RowRef("connections", "client_secret_ct", "another-row"),
        RowRef("connections", "other_column_ct", REF.row_id),
        RowRef("forward_proxy", REF.column, REF.row_id),
    ],
    ids=["other row", "other column", "other table"],
)
def test_a_ciphertext_moved_to_another_place_does_not_decrypt(
    ring: KeyRing, elsewhere: RowRef
) -> None:
    stored = ring.encrypt(SECRET, REF)
    with pytest.raises(DecryptionError):
        ring.decrypt(stored, elsewhere)


def test_changing_any_character_of_a_ciphertext_makes_it_undecryptable(ring: KeyRing) -> None:
    for plaintext in ("", "s", "se", "sec", SECRET):
        stored = ring.encrypt(plaintext, REF)
        for i, char in enumerate(stored):
            for other in {"A", "B", "Q", "g", "w", "_", "-", "=", "!"} - {char}:
                tampered = stored[:i] + other + stored[i + 1 :]
                with pytest.raises(DecryptionError):
                    ring.decrypt(tampered, REF)


def test_flipping_any_bit_of_the_sealed_bytes_makes_it_undecryptable(ring: KeyRing) -> None:
    prefix, body = ring.encrypt(SECRET, REF).rsplit(":", 1)
    blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    for i in range(len(blob)):
        flipped = bytearray(blob)
        flipped[i] ^= 0x01
        tampered = prefix + ":" + b64(bytes(flipped)).rstrip("=")
        with pytest.raises(DecryptionError):
            ring.decrypt(tampered, REF)


@pytest.mark.parametrize(
    "stored",
    ["", "plaintext", "v1:k1:", "v1::AAAA", "v2:k1:AAAA", "v1:k1:AAAA", "v1:k1:***notbase64***"],
)
def test_values_that_are_not_ciphertexts_are_refused(ring: KeyRing, stored: str) -> None:
    with pytest.raises(DecryptionError):
        ring.decrypt(stored, REF)


def test_extra_characters_after_a_ciphertext_are_refused(ring: KeyRing) -> None:
    stored = ring.encrypt(SECRET, REF)
    for suffix in ("=", "==", " ", "\n", "!"):
        with pytest.raises(DecryptionError):
            ring.decrypt(stored + suffix, REF)


def test_a_ciphertext_of_an_unknown_key_is_refused(ring: KeyRing) -> None:
    stored = KeyRing.generate("k9").encrypt(SECRET, REF)
    with pytest.raises(DecryptionError, match="k9"):
        ring.decrypt(stored, REF)


def test_a_key_with_the_same_id_but_other_material_cannot_decrypt(ring: KeyRing) -> None:
    stored = ring.encrypt(SECRET, REF)
    with pytest.raises(DecryptionError):
        KeyRing.generate("k1").decrypt(stored, REF)


# --- key specs and rotation ---------------------------------------------------------------


def test_keys_given_by_spec_make_the_last_one_active() -> None:
    first, second = os.urandom(KEY_BYTES), os.urandom(KEY_BYTES)
    ring = KeyRing.from_spec(f"old:{b64(first)}, new:{b64(second)}")
    assert ring.key_ids == ("old", "new")
    assert ring.active_key_id == "new"
    assert key_id_of(ring.encrypt(SECRET, REF)) == "new"


def test_a_spec_ring_reads_what_a_ring_with_the_same_key_wrote() -> None:
    material = os.urandom(KEY_BYTES)
    stored = KeyRing({"k1": material}, "k1").encrypt(SECRET, REF)
    assert KeyRing.from_spec(f"k1:{b64(material)}").decrypt(stored, REF) == SECRET


def test_after_rotation_old_ciphertexts_still_decrypt(ring: KeyRing) -> None:
    old = ring.encrypt(SECRET, REF)
    rotated = ring.with_new_active_key("k2")
    assert rotated.active_key_id == "k2"
    assert rotated.decrypt(old, REF) == SECRET
    assert rotated.needs_rotation(old)
    new = rotated.encrypt(SECRET, REF)
    assert key_id_of(new) == "k2"
    assert not rotated.needs_rotation(new)


def test_retiring_a_key_keeps_the_active_one_and_refuses_to_retire_it(ring: KeyRing) -> None:
    rotated = ring.with_new_active_key("k2")
    assert rotated.without(["k1"]).key_ids == ("k2",)
    with pytest.raises(EncryptionKeyError):
        rotated.without(["k2"])


def test_the_ring_survives_a_json_round_trip(ring: KeyRing) -> None:
    stored = ring.encrypt(SECRET, REF)
    again = KeyRing.from_json(ring.to_json())
    assert again.active_key_id == "k1"
    assert again.decrypt(stored, REF) == SECRET


@pytest.mark.parametrize(
    "spec",
    [
        "",
        " , ",
        "no-separator",
        f"k1:{b64(os.urandom(16))}",
        f"k1:{b64(os.urandom(31))}",
        f"k1:{b64(os.urandom(33))}",
        f"bad id!:{b64(os.urandom(KEY_BYTES))}",
        f":{b64(os.urandom(KEY_BYTES))}",
    ],
    ids=["empty", "blank", "no separator", "16 bytes", "31 bytes", "33 bytes", "bad id", "no id"],
)
def test_short_or_malformed_keys_are_refused(spec: str) -> None:
    with pytest.raises(EncryptionKeyError):
        KeyRing.from_spec(spec)


def test_an_active_key_missing_from_the_ring_is_refused() -> None:
    with pytest.raises(EncryptionKeyError):
        KeyRing({"k1": os.urandom(KEY_BYTES)}, "k2")


def test_the_repr_of_a_ring_shows_no_key_material() -> None:
    material = os.urandom(KEY_BYTES)
    ring = KeyRing({"k1": material}, "k1")
    shown = repr(ring) + str(ring)
    assert "k1" in shown
    for spelling in (b64(material), b64(material).rstrip("="), material.hex(), repr(material)):
        assert spelling not in shown


# --- key check values ---------------------------------------------------------------------


def test_the_right_ring_matches_its_check_values(ring: KeyRing) -> None:
    ring.verify_check_values(ring.check_values())
    ring.with_new_active_key("k2").verify_check_values(ring.check_values())


def test_a_wrong_key_with_the_same_id_is_refused(ring: KeyRing) -> None:
    with pytest.raises(EncryptionKeyError, match="k1"):
        KeyRing.generate("k1").verify_check_values(ring.check_values())


def test_a_ring_without_any_key_of_the_database_is_refused(ring: KeyRing) -> None:
    with pytest.raises(EncryptionKeyError, match="none of the loaded"):
        KeyRing.generate("k2").verify_check_values(ring.check_values())


def test_a_database_without_check_values_accepts_any_ring(ring: KeyRing) -> None:
    ring.verify_check_values({})


# --- the key ring file --------------------------------------------------------------------


def test_a_missing_ring_file_is_created_readable_only_by_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "data" / "keyring.json"
    ring, created = load_or_create_keyring(path, None, create=True)
    assert created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, created_again = load_or_create_keyring(path, None, create=True)
    assert not created_again
    assert again.decrypt(ring.encrypt(SECRET, REF), REF) == SECRET


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_a_ring_file_others_can_read_is_refused(tmp_path: Path, ring: KeyRing, mode: int) -> None:
    path = tmp_path / "keyring.json"
    write_keyring(path, ring)
    path.chmod(mode)
    with pytest.raises(EncryptionKeyError, match="chmod 600"):
        load_or_create_keyring(path, None, create=True)


def test_a_missing_ring_file_is_refused_when_creating_is_not_allowed(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    with pytest.raises(EncryptionKeyError, match="no encryption key"):
        load_or_create_keyring(path, None, create=False)
    assert not path.exists()


def test_a_spec_from_the_environment_wins_over_the_file(tmp_path: Path, ring: KeyRing) -> None:
    path = tmp_path / "keyring.json"
    write_keyring(path, ring)
    material = os.urandom(KEY_BYTES)
    loaded, created = load_or_create_keyring(path, f"env:{b64(material)}", create=True)
    assert (loaded.key_ids, created) == (("env",), False)


def test_a_ring_file_that_is_not_a_ring_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    path.write_text("not json")
    path.chmod(0o600)
    with pytest.raises(EncryptionKeyError):
        load_or_create_keyring(path, None, create=True)
