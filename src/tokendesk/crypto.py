"""Encryption at rest: AES-256-GCM with a key id per ciphertext and the row bound as AAD.

A stored value looks like ``v1:<key id>:<base64url(nonce || ciphertext+tag)>``. The
associated data is ``table/column/row id``, so a ciphertext copied to another row, or
another column of the same row, fails authentication instead of decrypting.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tokendesk.errors import DecryptionError, EncryptionKeyError

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT_VERSION = "v1"
KEY_CHECK_PLAINTEXT = "tokendesk key check"


@dataclass(frozen=True, slots=True)
class RowRef:
    """Where a ciphertext lives; bound into it as associated data."""

    table: str
    column: str
    row_id: str

    def aad(self) -> bytes:
        # JSON keeps the three parts unambiguous whatever characters they hold.
        return json.dumps([self.table, self.column, self.row_id], separators=(",", ":")).encode()


def key_check_ref(key_id: str) -> RowRef:
    """The binding of a key's check value (stored in ``encryption_keys``)."""
    return RowRef("encryption_keys", "check_value", key_id)


class KeyRing:
    """Named AES-256 keys; one of them is active for new ciphertexts."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if not keys:
            raise EncryptionKeyError("the key ring holds no key")
        if active_key_id not in keys:
            raise EncryptionKeyError(f"the active key {active_key_id!r} is not in the key ring")
        for key_id, material in keys.items():
            _check_key_id(key_id)
            if len(material) != KEY_BYTES:
                raise EncryptionKeyError(
                    f"key {key_id!r} is {len(material)} bytes; AES-256 needs {KEY_BYTES}"
                )
        self._ciphers = {key_id: AESGCM(material) for key_id, material in keys.items()}
        self._material = dict(keys)
        self.active_key_id = active_key_id
        # Called once when a value names a key this ring lacks (another process rotated):
        # it may load the newer ring (see :meth:`adopt`) before the decryption is retried.
        self.on_unknown_key: Callable[[], None] | None = None

    def adopt(self, newer: KeyRing) -> None:
        """Take over the keys of ``newer`` in place, so every holder of this ring sees them."""
        self._ciphers, self._material = dict(newer._ciphers), dict(newer._material)
        self.active_key_id = newer.active_key_id

    def __repr__(self) -> str:
        return f"KeyRing(key_ids={self.key_ids}, active={self.active_key_id!r})"

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._ciphers)

    # --- encryption -------------------------------------------------------------------

    def encrypt(self, plaintext: str, ref: RowRef) -> str:
        """Encrypt with the active key, binding ``ref``; a fresh nonce every call."""
        return self._encrypt_with(self.active_key_id, plaintext, ref)

    def decrypt(self, stored: str, ref: RowRef) -> str:
        """Decrypt a stored value bound to ``ref``.

        Raises DecryptionError when the value is malformed, its key is not in the ring,
        or it was tampered with or copied from another row.
        """
        key_id, blob = _split(stored)
        cipher = self._ciphers.get(key_id)
        if cipher is None and self.on_unknown_key is not None:
            self.on_unknown_key()
            cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(
                f"the value was encrypted with key {key_id!r}, which is not loaded"
            )
        try:
            plain = cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], ref.aad())
        except InvalidTag:
            raise DecryptionError(
                f"the stored value of {ref.table}.{ref.column} could not be authenticated"
            ) from None
        return plain.decode()

    def needs_rotation(self, stored: str) -> bool:
        """True when ``stored`` was sealed with a key other than the active one."""
        return key_id_of(stored) != self.active_key_id

    # --- key check values -------------------------------------------------------------

    def check_values(self) -> dict[str, str]:
        """A check value per key, stored in the database to recognise the right keys."""
        return {
            kid: self._encrypt_with(kid, KEY_CHECK_PLAINTEXT, key_check_ref(kid))
            for kid in self._ciphers
        }

    def verify_check_values(self, stored: Mapping[str, str]) -> None:
        """Refuse a key ring that does not match the database's key check values.

        Raises EncryptionKeyError when a key id known to the database is loaded with
        different material, or when the active key is unknown while the database already
        has keys and none of the loaded ones matches.
        """
        for key_id, check in stored.items():
            if key_id in self._ciphers:
                try:
                    ok = self.decrypt(check, key_check_ref(key_id)) == KEY_CHECK_PLAINTEXT
                except DecryptionError:
                    ok = False
                if not ok:
                    raise EncryptionKeyError(
                        f"encryption key {key_id!r} is not the key this database was written with"
                    )
        if stored and not set(stored) & set(self._ciphers):
            raise EncryptionKeyError(
                "none of the loaded encryption keys belongs to this database "
                f"(it knows {sorted(stored)}); load the right key ring"
            )

    def _encrypt_with(self, key_id: str, plaintext: str, ref: RowRef) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, plaintext.encode(), ref.aad())
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{FORMAT_VERSION}:{key_id}:{body}"

    # --- (de)serialisation ------------------------------------------------------------

    @classmethod
    def generate(cls, key_id: str | None = None) -> KeyRing:
        """A new ring with one random key."""
        kid = key_id or new_key_id()
        return cls({kid: AESGCM.generate_key(bit_length=256)}, kid)

    def with_new_active_key(self, key_id: str | None = None) -> KeyRing:
        """A copy of this ring with one more key, made active (rotation)."""
        kid = key_id or new_key_id()
        keys = dict(self._material)
        keys[kid] = AESGCM.generate_key(bit_length=256)
        return KeyRing(keys, kid)

    def without(self, key_ids: Iterable[str]) -> KeyRing:
        """A copy of this ring without ``key_ids`` (retirement); the active key stays."""
        drop = set(key_ids)
        if self.active_key_id in drop:
            raise EncryptionKeyError("the active key cannot be retired")
        return KeyRing(
            {k: v for k, v in self._material.items() if k not in drop}, self.active_key_id
        )

    @classmethod
    def from_spec(cls, spec: str) -> KeyRing:
        """Parse ``id:base64key[,id:base64key...]``; the last key is active."""
        keys: dict[str, bytes] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key_id, sep, encoded = item.partition(":")
            if not sep:
                raise EncryptionKeyError("TOKENDESK_ENCRYPTION_KEYS must look like 'id:base64key'")
            if key_id.strip() in keys:
                raise EncryptionKeyError(
                    f"TOKENDESK_ENCRYPTION_KEYS names key {key_id.strip()!r} twice"
                )
            keys[key_id.strip()] = _b64decode(encoded.strip(), key_id)
        if not keys:
            raise EncryptionKeyError("TOKENDESK_ENCRYPTION_KEYS is empty")
        return cls(keys, list(keys)[-1])

    def to_json(self) -> str:
        keys = {k: base64.urlsafe_b64encode(v).decode() for k, v in self._material.items()}
        return json.dumps({"active": self.active_key_id, "keys": keys}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> KeyRing:
        try:
            doc = json.loads(text)
            keys = {str(k): _b64decode(str(v), str(k)) for k, v in doc["keys"].items()}
            return cls(keys, str(doc["active"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise EncryptionKeyError(
                "the key ring file is not valid JSON of the expected shape"
            ) from None


def load_or_create_keyring(path: Path, spec: str | None, *, create: bool) -> tuple[KeyRing, bool]:
    """The key ring from the environment spec, else from ``path``.

    When neither exists and ``create`` is true, generate one and write it with mode 0600.
    Returns the ring and whether it was created. Raises EncryptionKeyError otherwise.
    """
    if spec:
        return KeyRing.from_spec(spec), False
    if path.exists():
        if path.stat().st_mode & 0o077:
            # Fail closed: a key ring others can read is as good as no encryption.
            raise EncryptionKeyError(f"{path} is readable by other users; run: chmod 600 {path}")
        return KeyRing.from_json(path.read_text()), False
    if not create:
        raise EncryptionKeyError(
            f"no encryption key: set TOKENDESK_ENCRYPTION_KEYS or provide {path}"
        )
    ring = KeyRing.generate()
    write_keyring(path, ring)
    return ring, True


def write_keyring(path: Path, ring: KeyRing) -> None:
    """Write ``ring`` to ``path`` atomically with mode 0600 (a new folder: 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a leftover temporary file keeps its mode otherwise
    with os.fdopen(fd, "w") as handle:
        handle.write(ring.to_json())
    os.replace(tmp, path)


def key_id_of(stored: str) -> str:
    """The key id a stored value was sealed with."""
    return _split(stored)[0]


def new_key_id() -> str:
    return "k" + secrets.token_hex(4)


def _split(stored: str) -> tuple[str, bytes]:
    version, _, rest = stored.partition(":")
    key_id, _, body = rest.partition(":")
    if version != FORMAT_VERSION or not key_id or not body:
        raise DecryptionError("the stored value is not a Tokendesk ciphertext")
    try:
        blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise DecryptionError("the stored value is not a Tokendesk ciphertext") from None
    if base64.urlsafe_b64encode(blob).decode().rstrip("=") != body:  # one spelling per value
        raise DecryptionError("the stored value is not a Tokendesk ciphertext")
    if len(blob) < NONCE_BYTES + 16:
        raise DecryptionError("the stored value is truncated")
    return key_id, blob


def _check_key_id(key_id: str) -> None:
    if not key_id or not key_id.replace("-", "").replace("_", "").isalnum() or len(key_id) > 32:
        raise EncryptionKeyError(f"key id {key_id!r} must be 1-32 letters, digits, - or _")


def _b64decode(encoded: str, key_id: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise EncryptionKeyError(f"key {key_id!r} is not valid base64") from None
