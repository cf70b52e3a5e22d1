"""Start-up: settings from the environment, the programmes file, and clear refusals."""

from __future__ import annotations

import pytest
from conftest import SECRET

from forms_service import create_app
from forms_service.programmes import SAMPLE
from forms_service.settings import ConfigError


@pytest.fixture
def env(monkeypatch, built_site, tmp_path):
    for name in ("FORMS_SECRET_KEY", "FORMS_DEBUG", "FORMS_TESTING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FORMS_SITE_DIR", str(built_site))
    monkeypatch.setenv("FORMS_INSTANCE_PATH", str(tmp_path / "instance"))
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "programmes.toml").write_text(SAMPLE, encoding="utf-8")
    return monkeypatch


def test_production_start_refuses_a_missing_secret_key(env):
    with pytest.raises(ConfigError, match="(?s)FORMS_SECRET_KEY is not set.*secrets.token_hex"):
        create_app()


@pytest.mark.parametrize("weak", ["dev", "change-me", "short-key"])
def test_production_start_refuses_a_weak_secret_key(env, weak):
    env.setenv("FORMS_SECRET_KEY", weak)
    with pytest.raises(ConfigError, match="too weak"):
        create_app()


def test_settings_come_from_the_environment(env, tmp_path):
    env.setenv("FORMS_SECRET_KEY", SECRET)
    env.setenv("FORMS_AGREEMENT_CONFIRM_DAYS", "21")
    app = create_app()
    assert app.config["SECRET_KEY"] == SECRET
    assert app.config["AGREEMENT_CONFIRM_DAYS"] == 21
    assert app.instance_path == str(tmp_path / "instance")


def test_debug_writes_a_development_key_and_the_example_programme(env, tmp_path):
    env.setenv("FORMS_DEBUG", "1")
    (tmp_path / "instance" / "programmes.toml").unlink()
    app = create_app()
    assert len(app.config["SECRET_KEY"]) >= 32
    assert (tmp_path / "instance" / "programmes.toml").read_text(encoding="utf-8") == SAMPLE
    assert [p.id for p in app.extensions["programmes"]] == ["example"]
    assert create_app().config["SECRET_KEY"] == app.config["SECRET_KEY"], "kept across restarts"


def test_production_start_refuses_a_missing_programmes_file(env, tmp_path):
    env.setenv("FORMS_SECRET_KEY", SECRET)
    (tmp_path / "instance" / "programmes.toml").unlink()
    with pytest.raises(ConfigError, match="programmes.toml: the file is missing"):
        create_app()


@pytest.mark.parametrize("change,message", [
    (('email = "kontakt@example.org"', 'email = "kontakt.example.org"'), "contact: email"),
    (('id = "example"', 'id = "Example Programme"'), "id must be"),
    (("digest = \"mon 08:00\"", "digest = \"monday morning\""), "digest must be"),
    (('time_zone = "Europe/Oslo"', 'time_zone = "Mars/Olympus"'), "not a known time zone"),
    (('language = "nb" }\n# Reminded', 'language = "sv" }\n# Reminded'), "language must be one of"),
    (("concern_deadline_hours = 24", "concern_deadline_hours = -1"), "concern_deadline_hours"),
    (("[[programme]]", "[[programme]"), "not valid TOML"),
])
def test_wrong_programmes_file_names_the_problem(env, tmp_path, change, message):
    env.setenv("FORMS_SECRET_KEY", SECRET)
    path = tmp_path / "instance" / "programmes.toml"
    old, new = change
    assert old in SAMPLE
    path.write_text(SAMPLE.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        create_app()


def test_missing_built_site_is_explained(env, tmp_path):
    env.setenv("FORMS_SECRET_KEY", SECRET)
    env.setenv("FORMS_SITE_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="make site"):
        create_app()
