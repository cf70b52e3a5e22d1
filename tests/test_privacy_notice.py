"""The privacy notice as the service serves it: the deployment's organisation and each programme's
retention periods in the reader's language, and a clear refusal when the organisation is missing."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest
from bs4 import BeautifulSoup
from conftest import LANGUAGES, SECRET, assert_accessible, language_prefix

from forms_service import create_app
from forms_service.programmes import SAMPLE
from forms_service.settings import ConfigError

HEADINGS = {"nb": "Personvernerklæring", "en": "Privacy notice", "da": "Privatlivserklæring"}
DAYS = {"nb": "Dager", "en": "Days", "da": "Dage"}


def app_with(tmp_path, built_site, programmes: str, **config):
    """A service whose programmes file is ``programmes``."""
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    (instance / "programmes.toml").write_text(programmes, encoding="utf-8")
    return create_app({"TESTING": True, "SECRET_KEY": SECRET, "SITE_DIR": str(built_site),
                       "INSTANCE_PATH": str(instance), **config})


def article(response):
    assert response.status_code == 200
    return BeautifulSoup(response.get_data(as_text=True), "html.parser").select_one("article")


@pytest.mark.parametrize("language", LANGUAGES)
def test_privacy_notice_names_the_configured_organisation(client, language):
    page = client.get(language_prefix(language) + "privacy/")
    html = page.get_data(as_text=True)
    assert BeautifulSoup(html, "html.parser").find("html")["lang"] == language
    content = article(page)
    assert content.find("h1").get_text(strip=True).startswith(HEADINGS[language])
    controller = content.select_one("dl.mh-controller")
    assert "Eksempelorganisasjonen" in controller.get_text()
    assert controller.select_one('a[href="mailto:personvern@example.org"]')
    # The fallback text of the built page is gone once the service knows the facts.
    assert "skjematjenesten" not in controller.get_text()
    assert page.headers["Cache-Control"] == "no-cache"
    assert "Content-Security-Policy" in page.headers


@pytest.mark.parametrize("language", LANGUAGES)
def test_privacy_notice_shows_each_programmes_retention_in_the_readers_language(client, language):
    content = article(client.get(language_prefix(language) + "privacy/"))
    table = content.select_one("div.mh-retention table")
    assert table.find("caption").get_text(strip=True) == {
        "nb": "Eksempelprogrammet", "en": "The example programme", "da": "Eksempelprogrammet"}[language]
    assert [th.get_text(strip=True) for th in table.select("thead th")][1] == DAYS[language]
    assert [td.get_text(strip=True) for td in table.select("tbody td")] == ["90", "730", "365"]


def test_privacy_notice_follows_a_change_of_configuration(tmp_path, built_site):
    changed = (SAMPLE.replace('name = "Eksempelorganisasjonen"', 'name = "Nordlys Opplæringskontor"')
               .replace("concern = 90", "concern = 45"))
    assert changed.count("Nordlys") == 1 and "concern = 45" in changed
    client = app_with(tmp_path, built_site, changed).test_client()
    for language in LANGUAGES:
        content = article(client.get(language_prefix(language) + "privacy/"))
        assert "Nordlys Opplæringskontor" in content.select_one("dl.mh-controller").get_text()
        assert "Eksempelorganisasjonen" not in content.get_text()
        cells = [td.get_text(strip=True) for td in content.select("div.mh-retention table tbody td")]
        assert cells == ["45", "730", "365"]


def test_every_programme_gets_its_own_table(tmp_path, built_site):
    second = SAMPLE[SAMPLE.index("[[programme]]"):].replace('id = "example"', 'id = "second"').replace(
        "Eksempelprogrammet", "Andreprogrammet").replace("The example programme", "The second programme").replace(
        "agreement = 730", "agreement = 400")
    client = app_with(tmp_path, built_site, SAMPLE + "\n" + second).test_client()
    content = article(client.get("/en/privacy/"))
    tables = content.select("div.mh-retention table")
    assert [t.find("caption").get_text(strip=True) for t in tables] == ["The example programme", "The second programme"]
    assert [td.get_text(strip=True) for td in tables[1].select("tbody td")] == ["90", "400", "365"]


def test_organisation_is_shown_as_text_not_markup(tmp_path, built_site):
    hostile = SAMPLE.replace('name = "Eksempelorganisasjonen"', 'name = "<script>alert(1)</script> AS"')
    html = app_with(tmp_path, built_site, hostile).test_client().get("/privacy/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; AS" in html


def _without_organisation() -> str:
    text = re.sub(r"\n# Who is responsible.*?\n\[organisation\]\n.*?\n\n", "\n\n", SAMPLE, count=1, flags=re.S)
    assert "[organisation]" not in text
    return text


def test_a_deployment_without_an_organisation_does_not_start(tmp_path, built_site):
    with pytest.raises(ConfigError, match=r"(?s)programmes.toml.*\[organisation\].*name.*email"):
        app_with(tmp_path, built_site, _without_organisation(), TESTING=False)


def test_debug_without_an_organisation_keeps_the_pages_fallback(tmp_path, built_site):
    client = app_with(tmp_path, built_site, _without_organisation()).test_client()
    content = article(client.get("/privacy/"))
    assert content.select_one("dl.mh-controller") is None
    assert "skjematjenesten" in content.get_text()
    assert content.select_one("div.mh-retention table") is not None


@pytest.mark.parametrize(("old", "new", "message"), [
    ('email = "personvern@example.org"', 'email = "not an address"', "organisation.email"),
    ('name = "Eksempelorganisasjonen"', 'name = "  "', "organisation.name"),
    ('phone = "+47 22 00 00 00"', "phone = 22000000", "organisation.phone"),
])
def test_a_wrong_organisation_is_named_in_the_error(tmp_path, built_site, old, new, message):
    assert old in SAMPLE
    with pytest.raises(ConfigError, match=re.escape(message)):
        app_with(tmp_path, built_site, SAMPLE.replace(old, new, 1))


@pytest.mark.parametrize("form", ("agreement", "concern", "feedback"))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_served_form_page_links_to_the_privacy_notice(client, language, form):
    url = f"{language_prefix(language)}forms/{form}/"
    html = client.get(url).get_data(as_text=True)
    targets = {urljoin(url, a["href"]) for a in BeautifulSoup(html, "html.parser").find_all("a", href=True)}
    assert f"{language_prefix(language)}privacy/" in targets


@pytest.mark.browser
@pytest.mark.parametrize("language", LANGUAGES)
def test_served_privacy_notice_is_accessible_on_a_phone(phone, live_server, language):
    phone.goto(live_server + language_prefix(language) + "privacy/")
    assert phone.locator("div.mh-retention table").first.is_visible()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert_accessible(phone)


def test_check_config_names_the_organisation(app):
    result = app.test_cli_runner().invoke(args=["check-config"])
    assert "Organisation (privacy notice): Eksempelorganisasjonen <personvern@example.org>" in result.output
