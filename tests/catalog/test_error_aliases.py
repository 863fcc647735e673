"""A provider's own error codes that mean a standard one (catalog ``error_aliases``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import tokendesk.catalog
from tokendesk.catalog import load_catalog
from tokendesk.errors import CatalogError

PROVIDERS_DIR = Path(tokendesk.catalog.__file__).parent / "providers"
SALESFORCE_ALIASES = 'error_aliases = { invalid_client_id = "invalid_client" }'


def test_salesforce_reads_invalid_client_id_as_invalid_client() -> None:
    assert load_catalog().get("salesforce").error_aliases == {
        "invalid_client_id": "invalid_client"}


def test_an_alias_to_a_code_rfc_6749_does_not_define_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "providers"
    shutil.copytree(PROVIDERS_DIR, directory)
    target = directory / "salesforce.toml"
    text = target.read_text(encoding="utf-8")
    assert SALESFORCE_ALIASES in text
    target.write_text(text.replace(SALESFORCE_ALIASES,
                                   'error_aliases = { invalid_client_id = "client_unknown" }'),
                      encoding="utf-8")

    with pytest.raises(CatalogError) as caught:
        load_catalog(directory)

    assert "error_aliases" in caught.value.message
