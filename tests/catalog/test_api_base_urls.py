"""Issue 16: each provider's API base URL (the API proxy's target), filled from the
connection's placeholders and from the token's own fields."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import tokendesk.catalog
from tokendesk.catalog import load_catalog
from tokendesk.domain.api_base import fill_token_fields
from tokendesk.errors import CatalogError, ValidationError

CATALOG = load_catalog()
PROVIDERS_DIR = Path(tokendesk.catalog.__file__).parent / "providers"


def test_every_catalog_provider_but_custom_names_its_api() -> None:
    missing = [p.key for p in CATALOG.providers() if p.key != "custom" and not p.api_base_url]
    assert missing == []
    assert CATALOG.get("custom").api_base_url is None  # a custom connection gives its own


def test_salesforce_calls_the_instance_url_of_the_token() -> None:
    template = CATALOG.get("salesforce").api_base_url
    assert template is not None
    filled = fill_token_fields(template, {"instance_url": "https://acme.example.test/"}, "SF")
    assert filled == "https://acme.example.test"


def test_jira_calls_the_cloud_id_fetched_after_consent() -> None:
    template = CATALOG.get("jira").api_base_url
    assert template is not None and template.endswith("/ex/jira/{cloud_id}")
    filled = fill_token_fields(template, {"cloud_id": "1a2b-3c4d"}, "Jira")
    assert filled == template.replace("{cloud_id}", "1a2b-3c4d")


def test_a_token_field_that_would_move_the_url_is_refused() -> None:
    jira = CATALOG.get("jira").api_base_url
    salesforce = CATALOG.get("salesforce").api_base_url
    assert jira is not None and salesforce is not None
    for template, extra in (
        (jira, {"cloud_id": "../../other"}),
        (jira, {"cloud_id": "a/b"}),
        (salesforce, {"instance_url": "https://acme.example.test/evil/path"}),
        (salesforce, {"instance_url": "ftp://acme.example.test"}),
        (salesforce, {"instance_url": "https://user@acme.example.test"}),
    ):
        with pytest.raises(ValidationError) as caught:
            fill_token_fields(template, extra, "Conn")
        assert caught.value.field == "api_base_url"


def test_a_missing_token_field_says_to_authenticate_again() -> None:
    template = CATALOG.get("jira").api_base_url
    assert template is not None
    with pytest.raises(ValidationError) as caught:
        fill_token_fields(template, {}, "Jira prod")
    assert "has no cloud_id" in caught.value.message
    assert "authenticate the connection again" in caught.value.message


def test_servicenow_and_genesys_fill_their_placeholders() -> None:
    servicenow, genesys = CATALOG.get("servicenow"), CATALOG.get("genesys")
    assert servicenow.api_base_url is not None and genesys.api_base_url is not None
    [instance] = servicenow.placeholders
    assert servicenow.render(servicenow.api_base_url, {instance.name: "acme"},
                             field="api_base_url").startswith("https://acme.")
    region = genesys.placeholders[0].choices[0].value
    assert genesys.render(genesys.api_base_url, {"region": region},
                          field="api_base_url") == f"https://api.{region}"


def test_token_fields_are_refused_outside_the_api_base_url(tmp_path: Path) -> None:
    directory = tmp_path / "providers"
    shutil.copytree(PROVIDERS_DIR, directory)
    target = directory / "jira.toml"
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace('/oauth/token"', '/{cloud_id}/token"', 1), encoding="utf-8")

    with pytest.raises(CatalogError) as caught:
        load_catalog(directory)
    assert "token_url" in caught.value.message
