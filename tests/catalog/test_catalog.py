"""The provider catalog: every file loads, matches the Control Room table, and fills in safely."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticValidationError

import tokendesk.catalog
from tokendesk.catalog import Catalog, Provider, find_placeholders, load_catalog
from tokendesk.domain.urls import validate_authorization_url, validate_endpoint_url
from tokendesk.errors import CatalogError, UnknownProvider, ValidationError

PROVIDERS_DIR = Path(tokendesk.catalog.__file__).parent / "providers"
CATALOG = load_catalog()

# The "Examples of key components of OAuth" table of the Control Room procedure, with the
# corrections of issue 12 (Google's current endpoints, ServiceNow's full host, Genesys Cloud's
# login host chosen per region: the seed's login.<yourinstance>.pure.cloud misses six); the scopes
# are the defaults of the authorization code grant.
GOOGLE_AUTHORIZE = "https://accounts.google.com/o/oauth2/v2/auth?prompt=consent&access_type=offline"
SEED_TABLE = {
    "apigee": (
        GOOGLE_AUTHORIZE,
        "https://oauth2.googleapis.com/token",
        ("https://www.googleapis.com/auth/cloud-platform",),
    ),
    "genesys": (
        "https://login.<region>/oauth/authorize",
        "https://login.<region>/oauth/token",
        (),
    ),
    "google_workspace": (
        GOOGLE_AUTHORIZE,
        "https://oauth2.googleapis.com/token",
        (),
    ),
    "jira": (
        "https://auth.atlassian.com/authorize",
        "https://auth.atlassian.com/oauth/token",
        (
            "offline_access",
            "write:jira-work",
            "read:jira-user",
            "manage:jira-webhook",
            "read:jira-work",
        ),
    ),
    "microsoft_entra": (
        "https://login.microsoftonline.com/<tenant>/oauth2/v2.0/authorize",
        "https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token",
        ("offline_access", "openid", "https://graph.microsoft.com/.default"),
    ),
    "microsoft_365_outlook": (
        "https://login.microsoftonline.com/<tenant>/oauth2/v2.0/authorize",
        "https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token",
        ("offline_access", "openid", "https://graph.microsoft.com/.default"),
    ),
    "salesforce": (
        "https://<yourinstance>.salesforce.com/services/oauth2/authorize",
        "https://<yourinstance>.salesforce.com/services/oauth2/token",
        ("api", "refresh_token", "offline_access"),
    ),
    "servicenow": (
        "https://<yourinstance>/oauth_auth.do",
        "https://<yourinstance>/oauth_token.do",
        (),
    ),
    "sharepoint": (
        "https://login.microsoftonline.com/<tenant-id>/oauth2/v2.0/authorize",
        "https://login.microsoftonline.com/<tenant-id>/oauth2/v2.0/token",
        ("https://<domain-name>/AllSites.Manage", "offline_access", "openid"),
    ),
    "custom": ("", "", ()),
}


def copy_catalog(tmp_path: Path) -> Path:
    directory = tmp_path / "providers"
    shutil.copytree(PROVIDERS_DIR, directory)
    return directory


def example_values(provider: Provider) -> dict[str, str]:
    return {
        placeholder.name: placeholder.example or placeholder.choices[0].value
        for placeholder in provider.placeholders
    }


# --- what ships ------------------------------------------------------------------------------


def test_the_catalog_holds_exactly_the_ten_providers_with_custom_last() -> None:
    assert set(CATALOG.keys()) == set(SEED_TABLE)
    assert len(CATALOG) == 10
    assert CATALOG.keys()[-1] == "custom"
    assert [p.name for p in CATALOG.providers()] == [
        "Apigee",
        "Genesys",
        "Google Workspace",
        "Jira",
        "Microsoft Entra",
        "Microsoft 365 Outlook",
        "Salesforce",
        "ServiceNow",
        "SharePoint",
        "Custom",
    ]


def test_every_provider_file_is_named_after_its_key() -> None:
    stems = sorted(path.stem for path in PROVIDERS_DIR.glob("*.toml"))
    assert stems == sorted(CATALOG.keys())


@pytest.mark.parametrize("key", sorted(SEED_TABLE))
def test_each_provider_matches_the_control_room_table(key: str) -> None:
    authorization_url, token_url, scopes = SEED_TABLE[key]
    provider = CATALOG.get(key)
    assert provider.authorization_url == authorization_url
    assert provider.token_url == token_url
    assert provider.defaults("authorization_code").default_scopes == scopes


def test_google_workspace_offers_the_four_scope_presets() -> None:
    presets = CATALOG.get("google_workspace").scope_presets
    assert presets == {
        "Google Calendar": ("https://www.googleapis.com/auth/calendar",),
        "Google Drive": ("https://www.googleapis.com/auth/drive",),
        "Google Sheets": (
            "https://www.googleapis.com/auth/drive",
            "https://www.googleapis.com/auth/spreadsheets",
        ),
        "Gmail": (
            "https://mail.google.com/",
            "https://www.googleapis.com/auth/gmail.readonly",
            "https://www.googleapis.com/auth/gmail.send",
        ),
    }


def test_provider_quirks_are_data() -> None:
    salesforce = CATALOG.get("salesforce")
    assert salesforce.default_token_lifetime_s == 7200
    assert salesforce.keep_response_fields == ("instance_url", "id")
    assert CATALOG.get("apigee").pkce is False
    assert all(p.pkce for p in CATALOG.providers() if p.key != "apigee")
    assert CATALOG.get("google_workspace").authorization_params == {
        "access_type": "offline",
        "prompt": "consent",
    }
    assert CATALOG.get("jira").authorization_params["audience"] == "api.atlassian.com"
    assert CATALOG.get("custom").client_auth_method == "client_secret_basic"
    assert all(p.scope_separator == " " for p in CATALOG.providers())


def test_custom_has_no_templates_and_no_suggested_scopes() -> None:
    custom = CATALOG.get("custom")
    assert (custom.authorization_url, custom.token_url, custom.revocation_url) == ("", "", None)
    assert custom.defaults("authorization_code").default_scopes == ()
    assert custom.defaults("client_credentials").default_scopes == ()
    assert custom.placeholders == ()


@pytest.mark.parametrize("provider", CATALOG.providers(), ids=lambda p: p.key)
def test_every_template_filled_with_its_examples_is_a_valid_url(provider: Provider) -> None:
    values = example_values(provider)
    for field in ("token_url", "revocation_url"):
        template = getattr(provider, field)
        if template:
            url = provider.render(template, values, field=field)
            assert validate_endpoint_url(url, field=field) == url
    if provider.authorization_url:
        url = provider.render(provider.authorization_url, values, field="authorization_url")
        assert validate_authorization_url(url) == url
    for grant in provider.grant_types:
        for scope in provider.render_scopes(provider.defaults(grant).default_scopes, values):
            assert not find_placeholders(scope)


def test_providers_are_frozen_and_hashable() -> None:
    salesforce = CATALOG.get("salesforce")
    with pytest.raises(PydanticValidationError):
        salesforce.pkce = False  # type: ignore[misc]
    assert {salesforce, CATALOG.get("salesforce")} == {salesforce}


def test_nothing_is_loaded_at_import() -> None:
    assert not any(isinstance(value, Catalog) for value in vars(tokendesk.catalog).values())


# --- looking providers up --------------------------------------------------------------------


@pytest.mark.parametrize("key", ["salesforce", "Salesforce", " SALESFORCE "])
def test_lookup_ignores_case_and_spaces(key: str) -> None:
    assert CATALOG.get(key).key == "salesforce"
    assert CATALOG[key].name == "Salesforce"
    assert key in CATALOG


def test_an_unknown_provider_is_refused_with_the_valid_keys() -> None:
    with pytest.raises(UnknownProvider) as refused:
        CATALOG.get("okta")
    assert refused.value.field == "provider"
    assert "okta" in refused.value.message
    assert "salesforce" in refused.value.message and "custom" in refused.value.message
    assert "okta" not in CATALOG


# --- filling in placeholders -----------------------------------------------------------------


def test_rendering_fills_every_placeholder() -> None:
    salesforce = CATALOG.get("salesforce")
    url = salesforce.render(salesforce.token_url, {"yourinstance": " acme.my "}, field="token_url")
    assert url == "https://acme.my.salesforce.com/services/oauth2/token"
    sharepoint = CATALOG.get("sharepoint")
    values = {
        "tenant-id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "domain-name": "contoso.sharepoint.com",
    }
    assert sharepoint.render(sharepoint.authorization_url, values, field="authorization_url") == (
        "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/authorize"
    )
    code_flow = sharepoint.defaults("authorization_code").default_scopes
    assert sharepoint.render_scopes(code_flow, values) == (
        "https://contoso.sharepoint.com/AllSites.Manage",
        "offline_access",
        "openid",
    )


@pytest.mark.parametrize(
    "values", [{}, {"yourinstance": ""}, {"yourinstance": "   "}, {"other": "x"}]
)
def test_an_unfilled_placeholder_is_named(values: dict[str, str]) -> None:
    salesforce = CATALOG.get("salesforce")
    with pytest.raises(ValidationError) as refused:
        salesforce.render(salesforce.token_url, values, field="token_url")
    assert refused.value.field == "token_url"
    assert refused.value.message == "Fill in <yourinstance> in the token URL."


def test_every_unfilled_placeholder_is_named_at_once() -> None:
    sharepoint = CATALOG.get("sharepoint")
    with pytest.raises(ValidationError, match="<tenant-id> and <domain-name>"):
        sharepoint.render("https://<tenant-id>.example/<domain-name>", {}, field="token_url")


def test_a_placeholder_the_provider_does_not_declare_stays_unfilled() -> None:
    with pytest.raises(ValidationError, match="Fill in <tenant>"):
        CATALOG.get("custom").render(
            "https://<tenant>.example.com/token", {"tenant": "a"}, field="token_url"
        )


@pytest.mark.parametrize(
    "value",
    [
        "evil.example/",
        "evil.example#",
        "evil.example?",
        "a@b",
        "a:443",
        "a b",
        "a\nb",
        "..",
        ".",
        "a..b",
        "-a",
        "%2F",
        "a\\b",
        "<x>",
        "acmé",
        "a" * 300,
    ],
)
def test_a_value_that_could_change_the_url_is_refused(value: str) -> None:
    salesforce = CATALOG.get("salesforce")
    with pytest.raises(ValidationError) as refused:
        salesforce.render(salesforce.token_url, {"yourinstance": value}, field="token_url")
    assert refused.value.field == "token_url"
    assert "My Domain name" in refused.value.message


def test_a_single_label_placeholder_refuses_dots() -> None:
    genesys = CATALOG.get("genesys")
    with pytest.raises(ValidationError):
        genesys.render(genesys.token_url, {"yourinstance": "evil.example.com"}, field="token_url")


@given(st.text(max_size=80))
def test_any_value_renders_to_a_valid_url_or_is_refused(value: str) -> None:
    for provider in CATALOG.providers():
        for name in provider.placeholder_names():
            values = {**example_values(provider), name: value}
            try:
                url = provider.render(provider.token_url, values, field="token_url")
            except ValidationError:
                continue
            assert validate_endpoint_url(url, field="token_url") == url
            host = url.split("/")[2]
            if provider.key == "servicenow":  # a full host is accepted: custom domains
                assert host in (value.strip(), value.strip() + ".service-now.com")
                continue
            assert host.endswith((".pure.cloud", "login.microsoftonline.com", ".salesforce.com"))


# --- refusing bad provider files -------------------------------------------------------------


def test_an_unknown_field_is_refused_naming_the_file_and_field(tmp_path: Path) -> None:
    directory = copy_catalog(tmp_path)
    target = directory / "salesforce.toml"
    target.write_text('colour = "red"\n' + target.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(CatalogError) as refused:
        load_catalog(directory)
    assert "salesforce.toml" in refused.value.message
    assert "colour" in refused.value.message
    assert refused.value.field == "colour"


def test_an_unknown_field_of_a_placeholder_is_refused(tmp_path: Path) -> None:
    directory = copy_catalog(tmp_path)
    target = directory / "genesys.toml"
    target.write_text(target.read_text(encoding="utf-8") + 'colour = "red"\n', encoding="utf-8")
    with pytest.raises(CatalogError, match=r"genesys\.toml.*placeholders\.0\.colour"):
        load_catalog(directory)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            (
                '"https://<yourinstance>.salesforce.com/services/oauth2/token"',
                '"https://<instance>.salesforce.com/services/oauth2/token"',
            ),
            "token_url",
        ),
        (
            ('client_auth_method = "client_secret_post"', 'client_auth_method = "private_key_jwt"'),
            "client_auth_method",
        ),
        (
            ('grant_types = ["authorization_code", "client_credentials"]', "grant_types = []"),
            "grant_types",
        ),
        (
            (
                '"https://<yourinstance>.salesforce.com/services/oauth2/revoke"',
                '"http://<yourinstance>.salesforce.com/services/oauth2/revoke"',
            ),
            "revocation_url",
        ),
        (
            (
                'keep_response_fields = ["instance_url", "id"]',
                'keep_response_fields = ["refresh_token"]',
            ),
            "keep_response_fields",
        ),
        (
            (
                'default_scopes = ["api", "refresh_token", "offline_access"]',
                'default_scopes = ["api refresh_token"]',
            ),
            "default_scopes",
        ),
        (("pattern = '", "pattern = '.*|"), "pattern"),
        (('key = "salesforce"', 'key = "sales_force"'), "file name"),
        (('key = "salesforce"', 'key = "salesforce'), "not a valid TOML file"),
    ],
)
def test_a_provider_file_that_breaks_the_schema_is_refused(
    tmp_path: Path, change: tuple[str, str], said: str
) -> None:
    directory = copy_catalog(tmp_path)
    target = directory / "salesforce.toml"
    text = target.read_text(encoding="utf-8")
    assert change[0] in text
    target.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(CatalogError, match=said) as refused:
        load_catalog(directory)
    assert "salesforce.toml" in refused.value.message


def test_an_authorization_url_setting_a_reserved_parameter_is_refused(tmp_path: Path) -> None:
    directory = copy_catalog(tmp_path)
    target = directory / "jira.toml"
    text = target.read_text(encoding="utf-8")
    target.write_text(
        text.replace("/authorize", "/authorize?response_type=token"), encoding="utf-8"
    )
    with pytest.raises(CatalogError, match=r"jira\.toml: authorization_url: .*response_type"):
        load_catalog(directory)


def test_a_declared_placeholder_used_nowhere_is_refused(tmp_path: Path) -> None:
    directory = copy_catalog(tmp_path)
    target = directory / "genesys.toml"
    text = target.read_text(encoding="utf-8").replace("<region>", "usw2.pure.cloud")
    target.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match="used nowhere"):
        load_catalog(directory)


def test_an_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="No provider files"):
        load_catalog(tmp_path)


def test_other_files_in_the_folder_are_ignored(tmp_path: Path) -> None:
    directory = copy_catalog(tmp_path)
    (directory / "README.md").write_text("not a provider", encoding="utf-8")
    assert len(load_catalog(directory)) == 10


def test_a_provider_may_say_its_expires_in_counts_milliseconds_and_nothing_else(
    tmp_path: Path
) -> None:
    directory = copy_catalog(tmp_path)
    target = directory / "salesforce.toml"
    text = target.read_text(encoding="utf-8")
    target.write_text('expires_in_unit = "ms"\n' + text, encoding="utf-8")
    assert load_catalog(directory).get("salesforce").expires_in_unit == "ms"

    target.write_text('expires_in_unit = "minutes"\n' + text, encoding="utf-8")
    with pytest.raises(CatalogError, match="expires_in_unit") as refused:
        load_catalog(directory)
    assert "salesforce.toml" in refused.value.message


def test_every_certified_provider_counts_expires_in_in_seconds() -> None:
    assert {p.expires_in_unit for p in load_catalog().providers()} == {"s"}
