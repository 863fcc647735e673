"""Secret references of a desk file, resolved on the machine that applies it.

``{env: NAME}`` reads an environment variable, ``{file: path}`` a file. Where a desk file is
applied through the REST API, the machine that applies it is the server: there a reference
may only name a variable starting with ``TOKENDESK_SECRET_`` (so a request cannot send the
server's own settings, such as its encryption keys, to a provider), and never a file.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tokendesk.domain.secret import Secret
from tokendesk.errors import SecretReferenceUnresolved
from tokendesk.services.desk.file import SecretReference

SERVER_ENV_PREFIX = "TOKENDESK_SECRET_"
SECRET_FILE_MAX_BYTES = 64_000


@dataclass(frozen=True)
class SecretReader:
    """Reads the secrets a desk file refers to. ``files_from`` is the folder relative file
    paths start at; None refuses file references. Every name must start with ``env_prefix``.
    """

    environ: Mapping[str, str]
    files_from: Path | None
    env_prefix: str = ""

    def read(self, reference: SecretReference, where: str) -> Secret:
        """The secret ``reference`` names; ``where`` (the entry and field) is for messages.

        Raises SecretReferenceUnresolved: a variable that is not set or empty, a file that
        cannot be read, or a reference this reader may not follow.
        """
        if reference.env is not None:
            return Secret(self._env(reference.env, where))
        assert reference.file is not None  # the model holds exactly one of them
        return Secret(self._file(reference.file, where))

    def _env(self, name: str, where: str) -> str:
        if not name.startswith(self.env_prefix):
            raise SecretReferenceUnresolved(
                f"{where}: the environment variable {name} cannot be used here; a desk file "
                f"applied through the API reads only variables whose names start with "
                f"{self.env_prefix}.", field=where)
        value = self.environ.get(name)
        if value is None:
            raise SecretReferenceUnresolved(
                f"{where}: the environment variable {name} is not set on the machine that "
                "applies the desk file; set it, or change the reference.", field=where)
        if not value.strip():
            raise SecretReferenceUnresolved(
                f"{where}: the environment variable {name} is empty.", field=where)
        return value

    def _file(self, path: str, where: str) -> str:
        if self.files_from is None:
            raise SecretReferenceUnresolved(
                f"{where}: a desk file applied through the API cannot read files; use "
                f"{{env: {self.env_prefix}...}} instead, or apply it with `tokendesk apply`.",
                field=where)
        full = Path(path).expanduser()
        full = full if full.is_absolute() else self.files_from / full
        try:
            with full.open("rb") as handle:
                raw = handle.read(SECRET_FILE_MAX_BYTES + 1)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise SecretReferenceUnresolved(
                f"{where}: the secret file {path} cannot be read ({reason}).",
                field=where) from None
        if len(raw) > SECRET_FILE_MAX_BYTES:
            raise SecretReferenceUnresolved(
                f"{where}: the secret file {path} is larger than {SECRET_FILE_MAX_BYTES} "
                "bytes.", field=where)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretReferenceUnresolved(
                f"{where}: the secret file {path} is not UTF-8 text.", field=where) from None
        text = text.removesuffix("\n").removesuffix("\r")
        if not text.strip():
            raise SecretReferenceUnresolved(f"{where}: the secret file {path} is empty.",
                                            field=where)
        return text


def same_secret(given: str, stored: Secret | None) -> bool:
    """Whether ``given`` equals the ``stored`` (decrypted in-process) secret, compared by
    their SHA-256 digests in constant time; neither is ever shown."""
    if stored is None:
        return False
    given_digest = hashlib.sha256(given.encode()).digest()
    stored_digest = hashlib.sha256(stored.reveal().encode()).digest()
    return hmac.compare_digest(given_digest, stored_digest)


def suggested_env_name(*parts: str, taken: set[str]) -> str:
    """``TOKENDESK_SECRET_<PARTS>`` in upper case, unique among ``taken`` (which it joins)."""
    stem = "_".join(re.sub(r"[^A-Za-z0-9]+", "_", part).strip("_").upper() for part in parts)
    name = f"{SERVER_ENV_PREFIX}{stem or 'VALUE'}"
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate
