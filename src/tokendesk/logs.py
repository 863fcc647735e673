"""Structured logs (human or JSON lines) that pass through a secret scrubber.

Every record reaching the Tokendesk handler is scrubbed first: values of secret-bearing
keys in ``extra`` fields and mapping arguments, then the final message text, then the
exception and stack text. :func:`scrub_text` and :func:`scrub_mapping` are the same
scrubber for other uses (for example a provider's ``error_description``).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from tokendesk.domain.secret import MASK, Secret

# Keys whose values are secrets, compared case-insensitively with '-' read as '_'.
SECRET_KEYS = frozenset(
    {
        "client_secret",
        "secret",
        "password",
        "passwd",
        "pwd",
        "access_token",
        "refresh_token",
        "id_token",
        "id_token_hint",
        "token",
        "code",
        "code_verifier",
        "verifier",
        "state",
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "api_key",
        "x_api_key",
        "key",
        "proxy_password",
        "assertion",
        "client_assertion",
    }
)
# Any key ending in one of these is secret too (csrf_token, subject_token, db_password, ...).
SECRET_KEY_SUFFIXES = ("_token", "_secret", "_password", "_passwd")

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__).union(
    # uvicorn's color_message repeats the message with terminal colour codes
    {"message", "asctime", "taskName", "color_message"}
)


def is_secret_key(key: object) -> bool:
    """True when ``key`` names a secret-bearing field."""
    if not isinstance(key, str):
        return False
    norm = key.strip().lower().replace("-", "_")
    return norm in SECRET_KEYS or norm.endswith(SECRET_KEY_SUFFIXES)


# --- text scrubbing --------------------------------------------------------------------

_NAME = r"[A-Za-z0-9_-]"
_KEY_NAMES = "|".join(
    sorted((re.escape(k).replace("_", "[-_]") for k in SECRET_KEYS), key=len, reverse=True)
)
_ANY_KEY = rf"(?:(?:{_NAME}*[-_](?:token|secret|password|passwd))|{_KEY_NAMES})"
_HEADER_KEYS = r"(?:proxy[-_])?authorization|set[-_]cookie|cookie"

# `Bearer <token>` / `Basic <credentials>` (RFC 6750 §2.1, RFC 7617); not `Bearer expires_in=1`.
_AUTH_SCHEME_RE = re.compile(
    r"\b((?i:bearer)|Basic|BASIC|Digest|Negotiate)(\s+)[A-Za-z0-9\-._~+/]+=*(?![A-Za-z0-9\-._~+/=])"
)
# `Authorization: ...` or `Cookie: a=b; c=d` up to the end of the line or a closing quote.
_HEADER_RE = re.compile(
    rf"(?<!{_NAME})(?P<q>[\"']?)(?P<name>{_HEADER_KEYS})(?P=q)(?P<sep>\s*[:=]\s*)"
    r"(?P<vq>[\"']?)(?P<val>[^\r\n\"']+)",
    re.IGNORECASE,
)
# `key=value`, `key: value`, `"key": "value"`, `('key', 'value')`, and query parameters.
_PAIR_RE = re.compile(
    rf"(?<!{_NAME})(?P<q>[\"']?)(?P<name>{_ANY_KEY})(?P=q)(?!{_NAME})"
    r"(?P<sep>\s*[:=]\s*|(?<=[\"'])\s*,\s*(?=[\"']))"
    r"(?P<val>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^\s&,;\"'<>{}\[\]()]+)",
    re.IGNORECASE,
)
# scheme://user:password@host -> scheme://user:********@host
_USERINFO_RE = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^\s/?#]*@")
# Tokendesk API keys: keep td_ and the 8 characters after it, mask the rest.
_API_KEY_RE = re.compile(r"(?<![A-Za-z0-9])(td_[A-Za-z0-9_-]{8})[A-Za-z0-9_-]{8,}")
# Bare JSON Web Tokens (access and ID tokens of most providers).
_JWT_RE = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


def _mask_value(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[0] + MASK + value[0]
    return MASK


def _mask_pair(match: re.Match[str]) -> str:
    q, name, sep = match.group("q"), match.group("name"), match.group("sep")
    return f"{q}{name}{q}{sep}{_mask_value(match.group('val'))}"


def _mask_header(match: re.Match[str]) -> str:
    q, name, sep, vq = (match.group(g) for g in ("q", "name", "sep", "vq"))
    return f"{q}{name}{q}{sep}{vq}{MASK}"


def scrub_text(text: str) -> str:
    """``text`` with credentials, secret-bearing pairs, URL passwords and API keys masked."""
    text = _AUTH_SCHEME_RE.sub(rf"\1\2{MASK}", text)
    text = _HEADER_RE.sub(_mask_header, text)
    text = _USERINFO_RE.sub(rf"\1{MASK}@", text)
    text = _PAIR_RE.sub(_mask_pair, text)
    text = _API_KEY_RE.sub(rf"\1{MASK}", text)
    return _JWT_RE.sub(MASK, text)


# --- structured scrubbing ---------------------------------------------------------------


def scrub_value(value: Any) -> Any:
    """``value`` with secrets masked: strings scrubbed, containers walked, Secrets masked."""
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return scrub_mapping(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub_value(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return scrub_text(repr(bytes(value)))
    return value


def scrub_mapping(m: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``m`` with values of secret-bearing keys masked, recursively.

    ``None`` stays ``None`` (it reveals only that nothing is set).
    """
    return {
        key: (MASK if value is not None else None) if is_secret_key(key) else scrub_value(value)
        for key, value in m.items()
    }


def _record_message(record: logging.LogRecord) -> str:
    """The record's message, formatted from scrubbed arguments."""
    msg: Any = record.msg
    if isinstance(msg, Mapping):
        msg = scrub_mapping(msg)
    elif isinstance(msg, Secret):
        msg = MASK
    args: Any = record.args
    if isinstance(args, Mapping):
        args = scrub_mapping(args)
    elif isinstance(args, tuple):
        args = tuple(_scrub_arg(arg) for arg in args)
    try:
        return str(msg) % args if args else str(msg)
    except (TypeError, ValueError, KeyError):
        # A mismatched format string must still be logged, just not formatted.
        return f"{msg} {args!r}"


def _scrub_arg(arg: Any) -> Any:
    if isinstance(arg, Secret):
        return MASK
    if isinstance(arg, Mapping):
        return scrub_mapping(arg)
    if isinstance(arg, list | tuple):
        return type(arg)(_scrub_arg(item) for item in arg)
    return arg


class ScrubbingFilter(logging.Filter):
    """Masks secrets in a record's message, ``extra`` fields, exception and stack text.

    The record is rewritten in place: ``msg`` becomes the scrubbed final text, ``args``
    is emptied, and ``exc_text`` holds the scrubbed traceback. Always returns True.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub_text(_record_message(record))
        record.args = None
        for name, value in list(record.__dict__.items()):
            if name in _RECORD_ATTRS or name.startswith("_"):
                continue
            masked = MASK if is_secret_key(name) and value is not None else scrub_value(value)
            setattr(record, name, masked)
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub_text(record.stack_info)
        return True


# --- formatting -------------------------------------------------------------------------


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra`` fields of a record, in the order they were given."""
    return {
        k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRS and not k.startswith("_")
    }


def _utc(created: float, *, millis: bool) -> str:
    stamp = datetime.fromtimestamp(created, UTC)
    if millis:
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _human_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if isinstance(value, str) and (not text or any(c.isspace() or c in '"=' for c in text)):
        return json.dumps(text)
    return text


class HumanFormatter(logging.Formatter):
    """``2026-11-28T14:00:00Z INFO tokendesk.x message key=value``, traceback below."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_utc(record.created, millis=False)} {record.levelname} {record.name} "
        line += record.getMessage()
        for key, value in extra_fields(record).items():
            line += f" {key}={_human_value(value)}"
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + record.stack_info
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": _utc(record.created, millis=True),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            doc.setdefault(key, value)
        if record.exc_text:
            doc["exception"] = record.exc_text
        if record.stack_info:
            doc["stack"] = record.stack_info
        return json.dumps(doc, default=str, ensure_ascii=False)


class _TokendeskHandler(logging.StreamHandler[TextIO]):
    """The one handler :func:`configure_logging` installs (found again by its type)."""


def configure_logging(
    level: str, fmt: Literal["human", "json"], stream: TextIO | None = None
) -> None:
    """Send the root logger (and uvicorn's) through one scrubbing handler.

    Calling it again replaces the handler instead of adding a second one.
    Raises ValueError for an unknown level or format.
    """
    levelno = logging.getLevelNamesMapping().get(level.upper())
    if levelno is None:
        raise ValueError(f"unknown log level {level!r}")
    if fmt not in ("human", "json"):
        raise ValueError(f"unknown log format {fmt!r}; use 'human' or 'json'")
    handler = _TokendeskHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(ScrubbingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else HumanFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _TokendeskHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(levelno)
    for name in UVICORN_LOGGERS:
        # uvicorn installs its own handlers unless started with log_config=None;
        # route its records through ours so access lines (with query strings) are scrubbed.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
