"""The provider catalog: one TOML file per provider, a strict schema, and its loader.

Build the catalog at startup with :func:`load_catalog`; nothing is loaded at import.
"""

from tokendesk.catalog.loader import Catalog, load_catalog
from tokendesk.catalog.schema import GrantDefaults, Placeholder, Provider, RefreshTokenLifetimes
from tokendesk.domain.urls import find_placeholders

__all__ = [
    "Catalog",
    "GrantDefaults",
    "Placeholder",
    "Provider",
    "RefreshTokenLifetimes",
    "find_placeholders",
    "load_catalog",
]
