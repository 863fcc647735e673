"""Key rotation without downtime.

``rotate`` adds a new active key to the key ring file and records its check value; every
process notices the newer file (at its next background sweep, or at once when it meets a
value sealed with a key it lacks) and re-seals old values in small batches in the
background; ``retire`` removes an old key once no stored value uses it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tokendesk.crypto import KeyRing, RowRef, write_keyring
from tokendesk.errors import DecryptionError, EncryptionKeyError, ValidationError
from tokendesk.storage.ciphertexts import count_by_key, reseal_batch
from tokendesk.storage.db import Transaction
from tokendesk.storage.settings import KeyCheckRepository

log = logging.getLogger(__name__)

RESEAL_BATCH = 200


@dataclass(frozen=True, slots=True)
class KeyUsage:
    key_id: str
    active: bool
    stored_values: int


class KeyRingService:
    def __init__(
        self,
        transaction: Transaction,
        keyring: KeyRing,
        path: Path | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.transaction = transaction
        self.keyring = keyring
        self.path = path  # None: the ring comes from TOKENDESK_ENCRYPTION_KEYS
        self.clock = clock
        self._mtime = path.stat().st_mtime_ns if path and path.exists() else 0
        self._reload_lock = threading.Lock()
        if path is not None:
            keyring.on_unknown_key = self.reload_if_changed

    def rotate(self) -> str:
        """Add a new active key; returns its id. Raises EncryptionKeyError for an
        environment-configured ring (add the key there and restart the replicas instead)."""
        path = self._file()
        newer = KeyRing.from_json(path.read_text()).with_new_active_key()
        with self.transaction() as tx:
            KeyCheckRepository(tx).add(
                newer.active_key_id, newer.check_values()[newer.active_key_id], self.clock()
            )
        write_keyring(path, newer)
        self.reload_if_changed()
        return newer.active_key_id

    def retire(self, key_id: str) -> None:
        """Remove ``key_id`` once nothing uses it; raises ValidationError otherwise."""
        path = self._file()
        ring = KeyRing.from_json(path.read_text())
        if key_id == ring.active_key_id:
            raise ValidationError(f"{key_id} is the active key; rotate first.", field="key_id")
        if key_id not in ring.key_ids:
            raise ValidationError(f"There is no key {key_id} in the key ring.", field="key_id")
        with self.transaction() as tx:
            still = count_by_key(tx, key_id)
            if still:
                raise ValidationError(
                    f"{still} stored values still use {key_id}; wait for the "
                    "background re-encryption to finish.",
                    field="key_id",
                )
            KeyCheckRepository(tx).remove(key_id)
        write_keyring(path, ring.without([key_id]))
        self.reload_if_changed()

    def usage(self) -> list[KeyUsage]:
        with self.transaction() as tx:
            return [
                KeyUsage(k, k == self.keyring.active_key_id, count_by_key(tx, k))
                for k in self.keyring.key_ids
            ]

    def reseal_some(self, limit: int = RESEAL_BATCH) -> int:
        """Re-seal a batch of values still under an older key; returns how many."""

        def reseal(stored: str, ref: RowRef) -> str:
            try:
                return self.keyring.encrypt(self.keyring.decrypt(stored, ref), ref)
            except DecryptionError:
                return stored  # damaged already; its token shows the error where it is used

        with self.transaction() as tx:
            return reseal_batch(tx, self.keyring.active_key_id, limit, reseal)

    def reload_if_changed(self) -> None:
        """Adopt the key ring file when another process (``keys rotate``) rewrote it."""
        if self.path is None or not self.path.exists():
            return
        with self._reload_lock:
            mtime = self.path.stat().st_mtime_ns
            if mtime == self._mtime:
                return
            newer = KeyRing.from_json(self.path.read_text())
            with self.transaction() as tx:
                newer.verify_check_values(KeyCheckRepository(tx).all())
            self.keyring.adopt(newer)
            self._mtime = mtime
            log.info("key ring reloaded; active key %s", newer.active_key_id)

    def _file(self) -> Path:
        if self.path is None:
            raise EncryptionKeyError(
                "The key ring comes from TOKENDESK_ENCRYPTION_KEYS: add the "
                "new key there (last = active) and restart each replica."
            )
        return self.path
