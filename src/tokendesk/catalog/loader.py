"""Load the provider catalog from its TOML files, refusing any file that breaks the schema."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType

from pydantic import ValidationError as SchemaError

from tokendesk.catalog.schema import Provider
from tokendesk.errors import CatalogError, ProviderNotFound, UnknownProvider


class Catalog:
    """The providers Tokendesk knows, by key, in display order (``order``, then name).

    Immutable. Lookups ignore case and surrounding spaces: ``catalog.get("Salesforce")``.
    """

    __slots__ = ("_by_key",)

    def __init__(self, providers: Iterable[Provider]) -> None:
        """Build the catalog; raise CatalogError when two providers share a key."""
        by_key: dict[str, Provider] = {}
        for provider in sorted(providers, key=lambda p: (p.order, p.name.casefold(), p.key)):
            if provider.key in by_key:
                raise CatalogError(f"Two provider files use the key {provider.key!r}.")
            by_key[provider.key] = provider
        self._by_key = MappingProxyType(by_key)

    def get(self, key: str) -> Provider:
        """Return the provider with this key.

        Raises UnknownProvider (field ``provider``) listing the valid keys.
        """
        provider = self._by_key.get(key.strip().lower()) if isinstance(key, str) else None
        if provider is None:
            raise UnknownProvider(
                f"Unknown provider {key!r}. Choose one of: {', '.join(self._by_key)}.",
                field="provider",
            )
        return provider

    def find(self, key: str) -> Provider:
        """Return the provider an address names (``/api/v1/providers/{key}``).

        Raises ProviderNotFound (404) when there is none: the address names nothing, unlike
        a ``provider`` field typed into a form, which :meth:`get` refuses as invalid input.
        """
        if key not in self:
            raise ProviderNotFound(
                f"There is no provider {key!r}. Choose one of: {', '.join(self._by_key)}."
            )
        return self.get(key)

    def providers(self) -> tuple[Provider, ...]:
        """Return every provider in display order."""
        return tuple(self._by_key.values())

    def keys(self) -> tuple[str, ...]:
        """Return every provider key in display order."""
        return tuple(self._by_key)

    def __getitem__(self, key: str) -> Provider:
        return self.get(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.strip().lower() in self._by_key

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_key)

    def __len__(self) -> int:
        return len(self._by_key)

    def __repr__(self) -> str:
        return f"Catalog({', '.join(self._by_key)})"


def load_catalog(directory: Path | None = None) -> Catalog:
    """Read every ``*.toml`` provider file of ``directory`` (default: the bundled catalog).

    Returns the Catalog. Raises CatalogError naming the file and the field when a file is
    not TOML, breaks the schema, has a key other than its file name, or when no file exists.
    """
    root: Traversable = directory if directory is not None else _bundled_providers()
    sources = sorted(
        (entry for entry in root.iterdir() if entry.is_file() and entry.name.endswith(".toml")),
        key=lambda entry: entry.name,
    )
    if not sources:
        raise CatalogError(f"No provider files (*.toml) found in {root}.")
    return Catalog(_load_provider(source) for source in sources)


def _bundled_providers() -> Traversable:
    """Return the folder of provider files shipped inside the package."""
    return files("tokendesk.catalog").joinpath("providers")


def _load_provider(source: Traversable) -> Provider:
    """Return the provider described by one file; raise CatalogError naming file and field."""
    try:
        data = tomllib.loads(source.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{source}: not a valid TOML file: {exc}") from None
    try:
        provider = Provider.model_validate(data)
    except SchemaError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        if first["type"] == "extra_forbidden":
            message = f"unknown field {where!r}"
        else:
            detail = first["msg"].removeprefix("Value error, ")
            message = f"{where}: {detail}" if where else detail
        raise CatalogError(f"{source}: {message}", field=where or None) from None
    stem = source.name.removesuffix(".toml")
    if provider.key != stem:
        raise CatalogError(
            f"{source}: key {provider.key!r} must equal the file name {stem!r}", field="key"
        )
    return provider
