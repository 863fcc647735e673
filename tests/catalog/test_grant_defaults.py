"""Issue 12: per-grant-type defaults, refresh-token lifetimes and the corrected provider data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import tokendesk.catalog
from tokendesk.catalog import Provider, load_catalog
from tokendesk.errors import CatalogError, ValidationError

PROVIDERS_DIR = Path(tokendesk.catalog.__file__).parent / "providers"
CATALOG = load_catalog()
GRAPH_DEFAULT = ("https://graph.microsoft.com/.default",)


def refused(tmp_path: Path, key: str, old: str, new: str) -> CatalogError:
    """Load a copy of the catalog with ``old`` replaced by ``new`` in ``key``'s file."""
    directory = tmp_path / f"providers-{len(list(tmp_path.iterdir()))}"
    shutil.copytree(PROVIDERS_DIR, directory)
    target = directory / f"{key}.toml"
    text = target.read_text(encoding="utf-8")
    assert old in text
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        load_catalog(directory)
    assert f"{key}.toml" in caught.value.message
    return caught.value


# --- the schema refuses ----------------------------------------------------------------------


def test_a_provider_without_a_documentation_url_is_refused(tmp_path: Path) -> None:
    error = refused(tmp_path, "genesys", 'documentation_url = "', 'xdocumentation = "')
    assert "documentation_url" in error.message


def test_a_provider_with_both_grants_needs_defaults_for_each(tmp_path: Path) -> None:
    error = refused(tmp_path, "microsoft_entra", "[grants.client_credentials]", "[ignored]")
    assert "unknown field 'ignored'" in error.message
    text = (PROVIDERS_DIR / "microsoft_entra.toml").read_text(encoding="utf-8")
    section = text[text.index("[grants.client_credentials]"):text.index("# Refresh tokens")]
    error = refused(tmp_path, "microsoft_entra", section, "")
    assert "add a [grants.client_credentials] section" in error.message


def test_defaults_for_a_grant_type_the_provider_does_not_offer_are_refused(
    tmp_path: Path,
) -> None:
    error = refused(tmp_path, "jira", "[grants.authorization_code]\n",
                    "[grants.client_credentials]\n[grants.authorization_code]\n")
    assert "client_credentials is not one of grant_types" in error.message


def test_one_default_list_for_every_grant_type_is_refused(tmp_path: Path) -> None:
    error = refused(tmp_path, "salesforce", "[grants.authorization_code]\n",
                    'default_scopes = ["api"]\n[grants.authorization_code]\n')
    assert error.field == "default_scopes"


def test_an_unknown_field_of_a_grant_section_is_refused(tmp_path: Path) -> None:
    error = refused(tmp_path, "salesforce", "[grants.client_credentials]\n",
                    "[grants.client_credentials]\ndefault_scope = []\n")
    assert error.field == "grants.client_credentials.default_scope"


def test_an_unknown_grant_type_section_is_refused(tmp_path: Path) -> None:
    error = refused(tmp_path, "salesforce", "[grants.client_credentials]",
                    "[grants.password]")
    assert "grants.password" in error.message


def test_a_bad_default_scope_of_a_grant_is_refused(tmp_path: Path) -> None:
    error = refused(tmp_path, "salesforce", 'default_scopes = ["api", "refresh_token"',
                    'default_scopes = ["api refresh_token"')
    assert error.field == "grants.authorization_code.default_scopes"


def test_a_default_scope_with_an_undeclared_placeholder_is_refused(tmp_path: Path) -> None:
    error = refused(tmp_path, "sharepoint", '"https://<domain-name>/.default"',
                    '"https://<site>/.default"')
    assert "<site>" in error.message or "'site'" in error.message


def test_authorization_parameters_for_client_credentials_are_refused(tmp_path: Path) -> None:
    error = refused(tmp_path, "microsoft_entra", "[grants.client_credentials]\n",
                    '[grants.client_credentials]\nauthorization_params = { prompt = "x" }\n')
    assert "client credentials has no authorization request" in error.message


def test_a_reserved_authorization_parameter_of_a_grant_is_refused(tmp_path: Path) -> None:
    error = refused(tmp_path, "jira", 'audience = "api.atlassian.com"',
                    'redirect_uri = "https://evil.example"')
    assert "redirect_uri" in error.message
    assert error.field == "grants.authorization_code.authorization_params"


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ("absolute_lifetime_days = 365", "absolute_lifetime_days = 0", "absolute_lifetime_days"),
        ("absolute_lifetime_days = 365", "lifetime = 365", "refresh_token.lifetime"),
        ('source = "https://', 'source = "http://', "refresh_token.source"),
        ("absolute_lifetime_days = 365\ninactivity_lifetime_days = 90\n", "", "lifetime"),
    ],
)
def test_refresh_token_lifetimes_that_break_the_schema_are_refused(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    assert said in refused(tmp_path, "jira", old, new).message


# --- every provider --------------------------------------------------------------------------


@pytest.mark.parametrize("provider", CATALOG.providers(), ids=lambda p: p.key)
def test_every_provider_cites_its_documentation_and_has_defaults_per_grant(
    provider: Provider,
) -> None:
    assert provider.documentation_url.startswith("https://")
    text = (PROVIDERS_DIR / f"{provider.key}.toml").read_text(encoding="utf-8")
    assert f'documentation_url = "{provider.documentation_url}"' in text
    assert set(provider.grants) == set(provider.grant_types)


# --- the corrected data ----------------------------------------------------------------------


@pytest.mark.parametrize("key", ["microsoft_entra", "microsoft_365_outlook"])
def test_microsoft_client_credentials_default_to_the_graph_default_scope_only(key: str) -> None:
    provider = CATALOG.get(key)
    assert provider.defaults("client_credentials").default_scopes == GRAPH_DEFAULT
    assert provider.defaults("authorization_code").default_scopes == (
        "offline_access", "openid", *GRAPH_DEFAULT)


def test_sharepoint_app_only_defaults_to_its_sites_default_scope_and_needs_a_certificate(
) -> None:
    sharepoint = CATALOG.get("sharepoint")
    scopes = sharepoint.defaults("client_credentials").default_scopes
    assert scopes == ("https://<domain-name>/.default",)
    values = {"tenant-id": "contoso.onmicrosoft.com", "domain-name": "contoso.sharepoint.com"}
    assert sharepoint.render_scopes(scopes, values) == ("https://contoso.sharepoint.com/.default",)
    assert any("certificate" in note for note in sharepoint.notes_for("client_credentials"))


def test_salesforce_client_credentials_take_no_code_flow_scopes() -> None:
    salesforce = CATALOG.get("salesforce")
    assert salesforce.defaults("client_credentials").default_scopes == ()
    assert salesforce.defaults("authorization_code").default_scopes == (
        "api", "refresh_token", "offline_access")


def test_google_workspace_uses_google_current_endpoints_and_requires_a_scope() -> None:
    google = CATALOG.get("google_workspace")
    assert google.authorization_url == (
        "https://accounts.google.com/o/oauth2/v2/auth?prompt=consent&access_type=offline")
    assert google.token_url == "https://oauth2.googleapis.com/token"
    assert google.revocation_url == "https://oauth2.googleapis.com/revoke"
    assert google.defaults("authorization_code").scopes_required is True
    assert google.authorization_params == {"access_type": "offline", "prompt": "consent"}


@pytest.mark.parametrize("key", ["google_workspace", "apigee"])
def test_google_refresh_tokens_expire_in_testing_and_when_unused(key: str) -> None:
    lifetimes = CATALOG.get(key).refresh_token
    assert lifetimes is not None
    assert lifetimes.testing_app_lifetime_days == 7
    assert lifetimes.inactivity_lifetime_days == 180  # "six months"
    assert lifetimes.absolute_lifetime_days is None
    assert lifetimes.source == "https://developers.google.com/identity/protocols/oauth2"


def test_apigee_serves_apigee_x_and_hybrid_on_google_current_endpoints() -> None:
    apigee = CATALOG.get("apigee")
    assert apigee.token_url == "https://oauth2.googleapis.com/token"
    assert apigee.authorization_url.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    notes = " ".join(apigee.notes_for("authorization_code"))
    assert "Apigee X and Apigee hybrid" in notes
    assert "Apigee Edge users" in notes and "https://login.apigee.com/oauth/token" in notes


def test_atlassian_refresh_tokens_expire_after_90_days_unused_and_365_days() -> None:
    lifetimes = CATALOG.get("jira").refresh_token
    assert lifetimes is not None
    assert (lifetimes.absolute_lifetime_days, lifetimes.inactivity_lifetime_days) == (365, 90)
    assert lifetimes.source.startswith("https://developer.atlassian.com/")


def test_servicenow_accepts_a_full_host_or_an_instance_name() -> None:
    servicenow = CATALOG.get("servicenow")
    cases = {
        "dev12345.service-now.com": "dev12345.service-now.com",
        "acme.servicenowservices.com": "acme.servicenowservices.com",
        " itsm.example.com ": "itsm.example.com",
        "dev12345": "dev12345.service-now.com",  # as before: an instance name alone
    }
    for value, host in cases.items():
        url = servicenow.render(servicenow.token_url, {"yourinstance": value}, field="token_url")
        assert url == f"https://{host}/oauth_token.do"


@pytest.mark.parametrize("value", ["evil.example/x", "a@b.com", "a.com:8443", "..", "a..b"])
def test_servicenow_still_refuses_what_is_not_a_host(value: str) -> None:
    servicenow = CATALOG.get("servicenow")
    with pytest.raises(ValidationError, match="Instance host name"):
        servicenow.render(servicenow.token_url, {"yourinstance": value}, field="token_url")


def test_notes_and_placeholders_are_told_per_grant_type() -> None:
    entra = CATALOG.get("microsoft_entra")
    assert any("offline_access so tokens refresh" in n for n in entra.notes_for("authorization_code"))
    assert not any("offline_access so" in n for n in entra.notes_for("client_credentials"))
    sharepoint = CATALOG.get("sharepoint")
    assert [p.name for p in sharepoint.placeholders_for("client_credentials")] == [
        "tenant-id", "domain-name"]


# --- error verdicts (AADSTS numbers) ---------------------------------------------------------


@pytest.mark.parametrize("line", ['12345 = "  "', '0 = "zero is no error number"',
                                  'AADSTS7000215 = "a name, not a number"'])
def test_an_error_verdict_must_be_a_number_with_plain_words(tmp_path: Path, line: str) -> None:
    error = refused(tmp_path, "microsoft_entra", "[error_verdicts]\n",
                    f"[error_verdicts]\n{line}\n")
    assert "error_verdicts" in error.message
