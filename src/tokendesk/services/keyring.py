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

from sqlalchemy import Connection as Tx

from tokendesk.crypto import KeyRing, RowRef, write_keyring
from tokendesk.errors import DecryptionError, EncryptionKeyError, ValidationError
from tokendesk.storage.ciphertexts import ResealBatch, count_by_key, reseal_batch, sealed_with
from tokendesk.storage.db import Transaction
from tokendesk.storage.settings import KeyCheckRepository

log = logging.getLogger(__name__)

RESEAL_BATCH = 200


@dataclass(frozen=True, slots=True, order=True)
class DamagedValue:
    """A stored value that cannot be decrypted: which kind (``table.column``) of which row."""

    kind: str
    id: str

    @classmethod
    def at(cls, ref: RowRef) -> DamagedValue:
        return cls(f"{ref.table}.{ref.column}", ref.row_id)


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
        # Values found damaged while re-sealing: skipped by later batches (they can never be
        # re-sealed), so re-encryption finishes and never re-reads them in a loop.
        self._damaged: set[RowRef] = set()
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

    def retire(self, key_id: str, *, accept_unreadable: bool = False) -> list[DamagedValue]:
        """Remove ``key_id`` once no readable value uses it, and, only when the operator
        ``accept_unreadable``, while damaged values (that cannot be decrypted) still carry it;
        returns those damaged values. Raises ValidationError otherwise, naming them."""
        path = self._file()
        ring = KeyRing.from_json(path.read_text())
        if key_id == ring.active_key_id:
            raise ValidationError(f"{key_id} is the active key; rotate first.", field="key_id")
        if key_id not in ring.key_ids:
            raise ValidationError(f"There is no key {key_id} in the key ring.", field="key_id")
        with self.transaction() as tx:
            damaged = self._unreadable(tx, key_id)
            readable = count_by_key(tx, key_id) - len(damaged)
            if readable:
                raise ValidationError(
                    f"{readable} stored values still use {key_id}; wait for the "
                    "background re-encryption to finish.",
                    field="key_id",
                )
            if damaged and not accept_unreadable:
                raise ValidationError(
                    f"{len(damaged)} damaged stored values under {key_id} cannot be decrypted "
                    f"({_listed(damaged)}); they stay unreadable: accept that to retire the "
                    "key (tokendesk keys retire --accept-unreadable).",
                    field="key_id",
                )
            KeyCheckRepository(tx).remove(key_id)
        write_keyring(path, ring.without([key_id]))
        self.reload_if_changed()
        return damaged

    def _unreadable(self, tx: Tx, key_id: str) -> list[DamagedValue]:
        """The values sealed with ``key_id`` that do not decrypt."""
        found = []
        for ref, stored in sealed_with(tx, key_id):
            try:
                self.keyring.decrypt(stored, ref)
            except DecryptionError:
                found.append(DamagedValue.at(ref))
        return sorted(found)

    def usage(self) -> list[KeyUsage]:
        with self.transaction() as tx:
            return [
                KeyUsage(k, k == self.keyring.active_key_id, count_by_key(tx, k))
                for k in self.keyring.key_ids
            ]

    def reseal_some(self, limit: int = RESEAL_BATCH) -> int:
        """Re-seal a batch of values still under an older key; returns how many were
        re-sealed (damaged ones are not counted, remembered and skipped from then on)."""
        return self._reseal_batch(limit).resealed

    def reseal_all(self) -> list[DamagedValue]:
        """Re-seal every value under an older key now; returns the damaged ones (which
        cannot be decrypted, so stay as they are). Ends: each batch re-seals values or finds
        new damaged ones, which no later batch reads again."""
        while True:
            batch = self._reseal_batch(RESEAL_BATCH)
            if not batch.resealed and not batch.damaged:
                break
        return sorted(DamagedValue.at(ref) for ref in self._damaged)

    def _reseal_batch(self, limit: int) -> ResealBatch:
        def reseal(stored: str, ref: RowRef) -> str | None:
            try:
                return self.keyring.encrypt(self.keyring.decrypt(stored, ref), ref)
            except DecryptionError:
                return None  # damaged already; its token shows the error where it is used

        with self.transaction() as tx:
            batch = reseal_batch(tx, self.keyring.active_key_id, limit, reseal, self._damaged)
        for ref in batch.damaged:
            if ref not in self._damaged:
                log.warning("stored value %s.%s of %s cannot be decrypted; left under its key",
                            ref.table, ref.column, ref.row_id)
        self._damaged.update(batch.damaged)
        return batch

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


def _listed(damaged: list[DamagedValue], shown: int = 10) -> str:
    names = [f"{d.kind} {d.id}" for d in damaged[:shown]]
    more = f" and {len(damaged) - shown} more" if len(damaged) > shown else ""
    return ", ".join(names) + more
