"""The desk file as text: YAML (or JSON) read strictly, errors that name the entry and field
(never a value), and the file written back with empty defaults left out."""

from __future__ import annotations

from typing import Any

import pydantic
import yaml

from tokendesk.errors import DeskFileInvalid
from tokendesk.services.desk.file import DeskFile

DESK_FILE_MAX_BYTES = 5_000_000
# Fields of an entry left out of the written file when they hold their default.
DEFAULTS_LEFT_OUT: dict[str, dict[str, Any]] = {
    "connections": {"description": "", "placeholders": {}, "invited_roles": [],
                    "proxy_mode": "global", "proxy_username": "", "proxy_bypass": []},
    "webhooks": {"description": ""},
    "workload_issuers": {"refuse_replay": False},
}


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader that refuses a key given twice in one mapping (YAML 1.2 forbids it;
    PyYAML would silently keep the last)."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise DeskFileInvalid(
                f"The desk file gives the key '{str(key)[:60]}' twice (line "
                f"{key_node.start_mark.line + 1}).", field=str(key)[:60])
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_desk_file(text: str) -> DeskFile:
    """The desk file in ``text`` (YAML, or JSON, which is YAML), validated strictly.

    Raises DeskFileInvalid naming the entry and field of the first problems found.
    """
    if len(text.encode("utf-8", "replace")) > DESK_FILE_MAX_BYTES:
        raise DeskFileInvalid(f"The desk file is larger than {DESK_FILE_MAX_BYTES} bytes.")
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "it cannot be read"
        raise DeskFileInvalid(f"The desk file is not valid YAML{where}: {problem}.") from None
    if not isinstance(document, dict):
        raise DeskFileInvalid("The desk file must be a mapping that starts with 'version: 1'.")
    return parse_desk(document)


def parse_desk(document: Any) -> DeskFile:
    """``document`` (parsed YAML or JSON) as a DeskFile. Raises DeskFileInvalid."""
    try:
        return DeskFile.model_validate(document)
    except pydantic.ValidationError as exc:
        raise invalid_desk(exc, document) from None


def invalid_desk(exc: pydantic.ValidationError, document: Any) -> DeskFileInvalid:
    """The pydantic errors of a desk file as one error naming each entry and field (never a
    value, which could be a secret typed where a reference belongs)."""
    problems: list[str] = []
    first_field: str | None = None
    for error in exc.errors(include_input=False, include_url=False)[:5]:
        field = entry_path(error["loc"], document)
        first_field = first_field or field
        problems.append(f"{field or 'the file'}: {_said(error)}")
    more = len(exc.errors()) - len(problems)
    tail = f" (and {more} more)" if more > 0 else ""
    return DeskFileInvalid("The desk file is not valid: " + "; ".join(problems) + tail + ".",
                           field=first_field)


def _said(error: Any) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "missing":
        return "is required"
    return str(error.get("msg", "is not valid"))


def entry_path(loc: tuple[Any, ...] | list[Any], document: Any) -> str:
    """``connections[2] 'Jira prod'.token_url`` for pydantic's location of an error: the
    entry by its position and, where it has one, its name (a webhook's: its URL)."""
    parts: list[str] = []
    node = document
    for part in loc:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            name = (node.get("name") or node.get("url")) if isinstance(node, dict) else None
            named = f" '{name[:60]}'" if isinstance(name, str) else ""
            parts[-1:] = [f"{parts[-1] if parts else ''}[{part}]{named}"]
            continue
        node = node.get(part) if isinstance(node, dict) else None
        parts.append(str(part))
    return ".".join(parts)


def dump_desk_file(desk: DeskFile) -> str:
    """The desk file as YAML, sections in a fixed order, empty defaults left out."""
    document = desk.model_dump(mode="json", exclude_none=True)
    for section, defaults in DEFAULTS_LEFT_OUT.items():
        for item in document.get(section, []):
            for key, default in defaults.items():
                if key in item and item[key] == default:
                    del item[key]
    header = ("# Tokendesk desk file: `tokendesk apply -f FILE --dry-run` shows the plan.\n"
              "# Secrets are references ({env: NAME} or {file: path}), never values.\n")
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return header + body
