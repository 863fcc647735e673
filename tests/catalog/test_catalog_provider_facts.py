"""Issue 12, provider facts: Genesys Cloud regions as choices and its missing revocation
endpoint, Salesforce's introspection URL, Atlassian's post-connection step."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import tokendesk.catalog
from tokendesk.catalog import load_catalog
from tokendesk.errors import CatalogError, ValidationError

PROVIDERS_DIR = Path(tokendesk.catalog.__file__).parent / "providers"
CATALOG = load_catalog()
# https://developer.genesys.cloud/platform/api/ : each region's login host.
GENESYS_LOGIN_HOSTS = {
    "login.mypurecloud.com", "login.use2.us-gov-pure.cloud", "login.usw2.pure.cloud",
    "login.cac1.pure.cloud", "login.sae1.pure.cloud", "login.mypurecloud.ie",
    "login.euw2.pure.cloud", "login.mypurecloud.de", "login.euc2.pure.cloud",
    "login.mec1.pure.cloud", "login.aps1.pure.cloud", "login.apne2.pure.cloud",
    "login.mypurecloud.com.au", "login.mypurecloud.jp", "login.apne3.pure.cloud",
}


def refused(tmp_path: Path, key: str, old: str, new: str) -> CatalogError:
    """Load a copy of the catalog with ``old`` replaced by ``new`` in ``key``'s file."""
    directory = tmp_path / "providers"
    shutil.copytree(PROVIDERS_DIR, directory)
    target = directory / f"{key}.toml"
    text = target.read_text(encoding="utf-8")
    assert old in text
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        load_catalog(directory)
    return caught.value


def test_every_genesys_region_renders_its_documented_login_host() -> None:
    genesys = CATALOG.get("genesys")
    [region] = genesys.placeholders
    hosts = {
        genesys.render(genesys.token_url, {"region": c.value}, field="token_url")
        for c in region.choices
    }
    assert hosts == {f"https://{host}/oauth/token" for host in GENESYS_LOGIN_HOSTS}
    assert all(c.label for c in region.choices)


def test_a_genesys_region_outside_the_list_is_refused_naming_the_allowed_ones() -> None:
    genesys = CATALOG.get("genesys")
    with pytest.raises(ValidationError) as caught:
        genesys.render(genesys.token_url, {"region": "usw9.pure.cloud"}, field="token_url")
    assert caught.value.field == "token_url"
    assert "mypurecloud.com (Americas (US East) us-east-1)" in caught.value.message
    assert "apne3.pure.cloud" in caught.value.message


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ('{ value = "mypurecloud.ie"', '{ value = "evil.example/x"', "may hold only"),
        ('{ value = "mypurecloud.ie"', '{ value = "mypurecloud.com"', "listed twice"),
        ('help = "The region', 'pattern = "[a-z]+"\nhelp = "The region', "takes no pattern"),
        ('    { value = "mypurecloud.ie", label = "EMEA (Dublin) eu-west-1" },\n',
         '    { value = "mypurecloud.ie", label = "Dublin", colour = "red" },\n', "colour"),
    ],
)
def test_choices_that_break_the_schema_are_refused(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    assert said in refused(tmp_path, "genesys", old, new).message


def test_a_placeholder_needs_a_pattern_or_choices(tmp_path: Path) -> None:
    error = refused(tmp_path, "salesforce", "pattern = '", "xpattern = '")
    assert "xpattern" in error.message


def test_genesys_says_how_to_end_a_token_it_cannot_revoke() -> None:
    genesys = CATALOG.get("genesys")
    assert genesys.revocation_url is None
    assert genesys.revocation_note is not None
    assert "Admin > OAuth" in genesys.revocation_note


def test_a_revocation_note_beside_a_revocation_url_is_refused(tmp_path: Path) -> None:
    error = refused(tmp_path, "salesforce", "scope_separator",
                    'revocation_note = "nothing to see"\nscope_separator')
    assert "revocation_note is for a provider without a revocation_url" in error.message


def test_salesforce_names_its_introspection_endpoint() -> None:
    salesforce = CATALOG.get("salesforce")
    url = salesforce.render(salesforce.introspection_url or "", {"yourinstance": "acme.my"},
                            field="introspection_url")
    assert url == "https://acme.my.salesforce.com/services/oauth2/introspect"


def test_an_introspection_url_with_an_undeclared_placeholder_is_refused(tmp_path: Path) -> None:
    error = refused(tmp_path, "salesforce", "<yourinstance>.salesforce.com/services/oauth2/intro",
                    "<org>.salesforce.com/services/oauth2/intro")
    assert "introspection_url" in error.message


def test_jira_fetches_the_cloud_id_after_consent() -> None:
    step = CATALOG.get("jira").post_connection
    assert step is not None
    assert step.url == "https://api.atlassian.com/oauth/token/accessible-resources"
    assert step.keep == {"id": "cloud_id", "url": "site_url"}
    assert step.several_as == "sites"


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ('url = "https://api.atlassian', 'url = "http://api.atlassian', "https"),
        ('id = "cloud_id"', 'id = "refresh_token"', "is a secret"),
        ('url = "site_url"', 'url = "cloud_id"', "the same field"),
        ('url = "site_url"', 'url = "Site URL"', "plain field name"),
        ('several_as = "sites"', 'several_as = "cloud_id"', "also a kept field"),
    ],
)
def test_a_post_connection_step_that_breaks_the_schema_is_refused(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    assert said in refused(tmp_path, "jira", old, new).message
