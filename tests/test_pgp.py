"""Concern reports only the contact person can read: PGP/MIME to their key, or no content in email at all.

Keys are made once per session in a GNUPGHOME of the tests' own, with the system's gpg; a real
aiosmtpd server receives the mail.
"""

from __future__ import annotations

import re
import subprocess
from html import unescape
from datetime import datetime, timezone
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import gnupg
import pytest
from conftest import csrf_token
from test_mail import BACKUP, CONTACT, later, link_in, run
from test_mail_i18n import COMMON, CONTEXT, english_sentences
from test_privacy import REPORT, SECRETS

from forms_service import create_app, mail, pgp, programmes
from forms_service import scheduler as jobs
from forms_service.storage import Record

pytestmark = pytest.mark.smtp

ADMIN = "admin@example.org"
# What must never be readable on the way: the report's text, the reporter's phone, the concerns chosen.
IN_THE_REPORT = [SECRETS[key] for key in ("observed", "actions", "other", "reporter_phone")]
CONCERN_LABELS = ["Vold eller overgrep", "Violence or abuse"]
EVERYTHING = [*SECRETS.values(), *CONCERN_LABELS]


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    """Armoured public keys (the private ones stay in ``keys.home``): one that works, one that
    expired in 2020, one revoked, one that expires in ten days, and a signing-only one."""
    home = tmp_path_factory.mktemp("gpg")
    home.chmod(0o700)
    gpg = gnupg.GPG(gnupghome=str(home))

    def make(email: str, expire="0", faked_time: str | None = None, encrypt=True) -> str:
        maker = gnupg.GPG(gnupghome=str(home), options=["--faked-system-time", faked_time]) if faked_time else gpg
        settings = {"key_type": "EDDSA", "key_curve": "ed25519", "name_real": email.split("@")[0],
                    "name_email": email, "no_protection": True, "expire_date": expire}
        if encrypt:
            settings.update(subkey_type="ECDH", subkey_curve="cv25519")
        key = maker.gen_key(gpg.gen_key_input(**settings))
        assert key.fingerprint, key.stderr
        return key.fingerprint

    found = {"good": make(CONTACT), "expired": make(CONTACT, "1d", "20200101T000000"),
             "revoked": make(BACKUP), "soon": make(BACKUP, "10d"), "signing": make(CONTACT, encrypt=False)}
    revocation = (home / "openpgp-revocs.d" / f"{found['revoked']}.rev").read_text()
    assert gpg.import_keys(revocation.replace(":-----BEGIN", "-----BEGIN")).count == 1

    class Keys(dict):
        pass

    armoured = Keys({name: gpg.export_keys(fingerprint) for name, fingerprint in found.items()})
    armoured.fingerprints, armoured.home, armoured.gpg = found, home, gpg
    armoured.secret = gpg.export_keys(found["good"], secret=True, expect_passphrase=False)
    yield armoured
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False, timeout=30)


def programme_file(instance: Path, keys=None, content: str = "email", **people) -> None:
    """The example programme with keys for some people (``contact="good"``) and a content mode."""
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "keys").mkdir(exist_ok=True)
    text = programmes.SAMPLE.replace('concern_content = "email"', f'concern_content = "{content}"', 1)
    for role, key in people.items():
        (instance / "keys" / f"{role}.asc").write_text(keys[key])
        text = re.sub(rf'^({role} = {{.*?)( }})$', rf'\1, pgp_key_file = "keys/{role}.asc"\2', text, count=1,
                      flags=re.MULTILINE)
        assert f"keys/{role}.asc" in text
    (instance / programmes.FILE_NAME).write_text(text, encoding="utf-8")


@pytest.fixture
def make_app(request, tmp_path, keys):
    """An app whose programme has the keys and content mode asked for, its mail going to ``smtp``."""

    def make(content="email", **people):
        programme_file(tmp_path / "instance", keys, content, **people)
        return request.getfixturevalue("app")

    return make


def post_report(app, data=REPORT):
    client = app.test_client()
    response = client.post("/forms/concern/", data={**data, "csrf_token": csrf_token(client, "/forms/concern/")})
    assert response.status_code == 303
    [record] = app.extensions["store"].list("concern")
    return client, record


def in_the_clear(message, values=tuple(EVERYTHING)) -> list[str]:
    """Parts of the report readable in the raw message, its subject or any decoded part of it."""
    raw = message.as_bytes().decode("utf-8", "replace")
    decoded = " ".join((part.get_payload(decode=True) or b"").decode("utf-8", "replace")
                       for part in message.walk() if not part.is_multipart())
    return [value for value in values if value in raw or value in decoded or value in str(message["Subject"])]


def stored_outbox(app) -> str:
    """Every byte of the outbox as stored, and every mail file, as text."""
    folder = Path(app.instance_path)
    files = [p for p in (folder / "data" / "outbox").rglob("*") if p.is_file()]
    files += [p for p in (folder / "mail").rglob("*") if p.is_file()] if (folder / "mail").exists() else []
    return " ".join(p.read_text("utf-8", "replace") for p in files)


def test_the_report_reaches_the_contact_person_encrypted_to_their_key(make_app, smtp, keys):
    app = make_app(contact="good")
    home = Path(app.instance_path) / "gnupg"
    assert home.stat().st_mode & 0o777 == 0o700
    _, record = post_report(app)
    run(app, jobs.run_due, later(record, minutes=1))

    [message] = smtp.to(CONTACT)
    assert message.get_content_type() == "multipart/encrypted"
    assert message.get_param("protocol") == "application/pgp-encrypted"
    control, payload = message.get_payload()
    assert control.get_content_type() == "application/pgp-encrypted"
    assert control.get_content().strip() == b"Version: 1"
    assert payload.get_content_type() == "application/octet-stream"
    armoured = payload.get_content()
    armoured = armoured.decode() if isinstance(armoured, bytes) else armoured
    assert armoured.startswith("-----BEGIN PGP MESSAGE-----")
    assert not in_the_clear(message), in_the_clear(message)
    assert "Bekymringsmelding" in str(message["Subject"]) and not re.search(r"\d{3} \d{2} \d{3}", str(message["Subject"]))
    assert not [v for v in IN_THE_REPORT if v in stored_outbox(app)], "the outbox holds only the ciphertext"

    # The key's owner decrypts it to the whole email, text and HTML, with the report and the link.
    decrypted = keys.gpg.decrypt(armoured)
    assert decrypted.ok, decrypted.status
    inner = message_from_bytes(decrypted.data, policy=default_policy)
    assert inner.get_content_type() == "multipart/alternative"
    text = inner.get_body(preferencelist=("plain",)).get_content()
    html = inner.get_body(preferencelist=("html",)).get_content()
    for value in (*IN_THE_REPORT, "Vold eller overgrep", SECRETS["reporter_email"]):
        assert value in text, value
    assert SECRETS["observed"] in html
    assert "/forms/concern/ack/" in text

    # The reporter's receipt and the backup (no key) are unchanged: plain, and the receipt without content.
    [receipt] = smtp.to(SECRETS["reporter_email"])
    assert receipt.get_content_type() == "multipart/alternative" and not in_the_clear(receipt, IN_THE_REPORT)


def test_an_expired_key_withholds_the_report_and_tells_the_admin_once_a_day(make_app, smtp, keys):
    app = make_app(contact="expired")
    client, record = post_report(app)
    run(app, jobs.run_due, later(record, minutes=1))

    [message] = smtp.to(CONTACT)
    assert message.get_content_type() == "multipart/alternative", "not encrypted to a key that cannot be used"
    assert not in_the_clear(message), in_the_clear(message)
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "krypteringsnøkkelen din gikk ut 2. januar 2020" in text
    assert f"{record.id[:4]}-{record.id[4:8]}".upper() in text

    [notice] = smtp.to(ADMIN)
    notice_text = notice.get_body(preferencelist=("plain",)).get_content()
    assert keys.fingerprints["expired"] in notice_text and "Kari Kontakt" in notice_text
    assert "gikk ut 2. januar 2020" in notice_text
    assert not in_the_clear(notice)

    # A second report the same day: withheld again, the admin is not told twice.
    client.post("/forms/concern/", data={**REPORT, "csrf_token": csrf_token(client, "/forms/concern/")})
    second = max(app.extensions["store"].list("concern"), key=lambda r: r.created)
    run(app, jobs.run_due, later(second, minutes=1))
    assert len(smtp.to(CONTACT)) == 2 and len(smtp.to(ADMIN)) == 1
    # The next day the admin hears of it again.
    run(app, jobs.run_due, later(second, hours=25))  # the reminders go out, withheld
    assert len(smtp.to(ADMIN)) == 2
    assert all(not in_the_clear(m) for m in smtp.to(CONTACT) + smtp.to(ADMIN))

    # The link in the withheld email opens the report after the button, never on a GET.
    ack = link_in(message, "/forms/concern/ack/")
    page = client.get(ack)
    assert page.status_code == 200 and SECRETS["observed"] not in page.get_data(as_text=True)
    shown = client.post(ack, data={"csrf_token": csrf_token(client, ack)})
    assert shown.status_code == 200 and SECRETS["observed"] in shown.get_data(as_text=True)


def test_a_revoked_key_withholds_the_report(make_app, smtp):
    app = make_app(contact="revoked")
    _, record = post_report(app)
    run(app, jobs.run_due, later(record, minutes=1))
    [message] = smtp.to(CONTACT)
    assert not in_the_clear(message)
    assert "trukket tilbake" in message.get_body(preferencelist=("plain",)).get_content()
    assert "trukket tilbake" in smtp.to(ADMIN)[0].get_body(preferencelist=("plain",)).get_content()


def test_link_mode_sends_no_content_and_the_page_shows_it_after_the_button(make_app, smtp):
    app = make_app(content="link", contact="good")  # a key or not: no email carries the report
    client, record = post_report(app)
    run(app, jobs.run_due, later(record, minutes=1))
    run(app, jobs.run_due, later(record, hours=25))  # the reminders, to contact and backup
    assert len(smtp.to(CONTACT)) == 2 and len(smtp.to(BACKUP)) == 1
    for message in smtp.to(CONTACT) + smtp.to(BACKUP):
        assert message.get_content_type() == "multipart/alternative"
        assert not in_the_clear(message), in_the_clear(message)
    # The first email says why it holds no report; reminders never hold one (amplification).
    first = smtp.to(CONTACT)[0].get_body(preferencelist=("plain",)).get_content()
    assert "sender aldri innholdet i bekymringsmeldinger på e-post" in first
    assert smtp.to(ADMIN) == [], "nothing is wrong with the key"
    assert not [v for v in IN_THE_REPORT if v in stored_outbox(app)]

    ack = link_in(smtp.to(CONTACT)[0], "/forms/concern/ack/")
    page = client.get(ack)
    assert page.status_code == 200 and not [v for v in SECRETS.values() if v in unescape(page.get_data(as_text=True))]
    shown = client.post(ack, data={"csrf_token": csrf_token(client, ack)})
    html = unescape(shown.get_data(as_text=True))
    assert shown.status_code == 200 and "no-store" in shown.headers["Cache-Control"]
    for value in (*IN_THE_REPORT, "Vold eller overgrep", SECRETS["reporter_email"]):
        assert value in html, value
    assert app.extensions["store"].get("concern", record.id).status == "acknowledged"

    # Read again later: a GET says it was read and shows nothing; the button shows it again.
    again = client.get(ack)
    assert again.status_code == 200 and SECRETS["observed"] not in again.get_data(as_text=True)
    shown_again = client.post(ack, data={"csrf_token": csrf_token(client, ack)})
    assert SECRETS["observed"] in unescape(shown_again.get_data(as_text=True))

    # Once retention has deleted the report, the page has nothing to show.
    run(app, jobs.run_due, later(record, days=1))  # tells the reporter it was read
    run(app, jobs.run_due, later(record, days=100))  # past the retention period
    gone = client.get(ack)
    assert gone.status_code == 404
    assert client.post(ack, data={"csrf_token": "x"}).status_code == 404


@pytest.mark.parametrize("key, problem", [
    ("not a key", "not an ASCII-armoured key"),
    ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEga2V5\n-----END PGP PUBLIC KEY BLOCK-----\n", "no public key"),
    ("secret", "secret key"),
    ("two", "holds 2 keys"),
    ("signing", "cannot encrypt"),
])
def test_a_key_that_cannot_be_used_stops_start_up_naming_the_person(tmp_path, keys, key, problem):
    armoured = {"secret": keys.secret, "two": keys["good"] + keys["soon"], "signing": keys["signing"]}.get(key, key)
    instance = tmp_path / "instance"
    programme_file(instance, {"bad": armoured}, backup="bad")
    with pytest.raises(programmes.ProgrammeConfigError) as error:
        programmes.load(instance / programmes.FILE_NAME)
    assert "backup (Bjørn Backup): pgp_key_file 'keys/backup.asc' cannot be used" in str(error.value)
    assert problem in str(error.value)


def test_programme_file_errors_are_clear(tmp_path, keys):
    instance = tmp_path / "instance"
    programme_file(instance, keys, content="sometimes")
    with pytest.raises(programmes.ProgrammeConfigError, match='concern_content must be "email" or "link"'):
        programmes.load(instance / programmes.FILE_NAME)
    programme_file(instance, keys)
    path = instance / programmes.FILE_NAME
    path.write_text(path.read_text().replace('language = "nb" }', 'language = "nb", pgp_key_file = "nowhere.asc" }', 1))
    with pytest.raises(programmes.ProgrammeConfigError, match=r"contact \(Kari Kontakt\): pgp_key_file 'nowhere.asc' cannot be read"):
        programmes.load(path)
    inline = keys["good"].replace("\n", "\\n")
    path.write_text(programmes.SAMPLE.replace('language = "nb" }', f'language = "nb", pgp_key = "{inline}" }}', 1))
    loaded = programmes.load(path).get("example")
    assert loaded.contact.pgp_key.fingerprint == keys.fingerprints["good"] and loaded.backup.pgp_key is None


def test_check_config_names_each_keys_problem_and_expiry(tmp_path, keys, built_site):
    from conftest import SECRET

    programme_file(tmp_path / "instance", keys, contact="expired", backup="soon")
    path = tmp_path / "instance" / programmes.FILE_NAME
    coordinator = keys["revoked"].replace("\n", "\\n")
    path.write_text(path.read_text().replace('language = "nb" },\n]', f'language = "nb", pgp_key = "{coordinator}" }},\n]'))
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "SITE_DIR": str(built_site),
                      "INSTANCE_PATH": str(tmp_path / "instance")})
    result = app.test_cli_runner().invoke(args=["check-config"])
    output = result.output
    assert result.exit_code == 1, output
    assert f"Kari Kontakt (contact of example, {keys.fingerprints['expired']}): PROBLEM, expired on 2020-01-02" in output
    assert f"Kim Koordinator (coordinator of example, {keys.fingerprints['revoked']}): PROBLEM, revoked" in output
    assert re.search(rf"Bjørn Backup \(backup of example, {keys.fingerprints['soon']}\): WARNING, expires on "
                     r"\d{4}-\d\d-\d\d \(in [89] days\)", output), output
    assert "none of its user IDs names koordinator@example.org" in output
    assert "Configuration has problems: 2 key(s) cannot be used" in output

    programme_file(tmp_path / "instance", keys, contact="good")
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "SITE_DIR": str(built_site),
                      "INSTANCE_PATH": str(tmp_path / "instance")})
    result = app.test_cli_runner().invoke(args=["check-config"])
    assert result.exit_code == 0 and f"{keys.fingerprints['good']}): OK, does not expire" in result.output


@pytest.mark.parametrize("language", ["nb", "en", "da"])
@pytest.mark.parametrize("purpose", ["concern_report", "concern_reminder"])
@pytest.mark.parametrize("variant", [{"withheld": "link"}, {"withheld": "key", "key_problem": "expired",
                                                             "key_expired": "1. mars"},
                                     {"withheld": "key", "key_problem": "revoked"}])
def test_withheld_emails_are_in_the_readers_language(app, language, purpose, variant):
    context = {key: value for key, value in CONTEXT[purpose].items() if key not in ("observed", "actions")}
    with app.test_request_context():
        subject, text, html = mail.render(purpose, language, **COMMON, **context, **variant)
    assert COMMON["reference"] in text and COMMON["reference"] in html
    if language != "en":
        leftovers = [s for s in english_sentences() if s in text or s in html or s in subject]
        assert not leftovers, leftovers


def test_the_stored_ciphertext_is_sent_as_rfc_3156_pgp_mime(make_app):
    app = make_app(contact="good")
    with app.test_request_context():
        key = app.extensions["programmes"].get("example").contact.pgp_key
        data = {"to": {"name": "Kari", "email": CONTACT}, "subject": "s", **pgp.seal(key, "hei", "<p>hei</p>")}
        now = datetime.now(timezone.utc)
        record = Record(id="a", kind="outbox", language="nb", programme="example", created=now, updated=now,
                        status="queued", data=data)
        message = mail.build_message(record, "x@example.org", now)
    assert data["text"] is None and data["html"] is None and "hei" not in data["pgp"]
    parsed = message_from_bytes(bytes(message), policy=default_policy)
    assert parsed.get_content_type() == "multipart/encrypted"
    assert parsed["MIME-Version"] == "1.0"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["application/pgp-encrypted",
                                                                   "application/octet-stream"]
