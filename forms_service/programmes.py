"""The programmes a deployment serves, read from ``programmes.toml`` in the instance folder.

Each programme has a name per language, a contact person who receives concern reports, a backup
contact, one or more coordinators, deadlines, a digest schedule and retention periods. A file
with one example programme is written on first run so that the project starts with nothing else.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email

from . import pgp

FILE_NAME = "programmes.toml"
LANGUAGES = ("nb", "en", "da")
CONCERN_CONTENT = ("email", "link")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_DIGEST = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun|daily) ([01]\d|2[0-3]):([0-5]\d)$")

SAMPLE = """\
# Programmes served by the mentor handbook's forms. Written on first run with one example
# programme; edit it, then restart the service. `flask --app forms_service check-config` checks it.

# Time zone for deadlines, reminders and digests.
time_zone = "Europe/Oslo"

# Who is responsible for the data people send (the controller): named on the privacy notice
# (/privacy/), which also tells people to write here to see, correct or delete their data.
# Required unless the service runs in debug mode.
[organisation]
name = "Eksempelorganisasjonen"
email = "personvern@example.org"
address = "Eksempelgata 1, 0150 Oslo"   # optional
phone = "+47 22 00 00 00"               # optional

[[programme]]
id = "example"                      # lower-case letters, digits and hyphens; appears in links
name = { nb = "Eksempelprogrammet", en = "The example programme", da = "Eksempelprogrammet" }
concern_deadline_hours = 24         # a concern report must be acknowledged within this time
urgent_concern_deadline_hours = 4   # ... or this, when the reporter marks it urgent
digest = "mon 08:00"                # feedback digest: a weekday (mon..sun) or "daily", and a time
# "email": concern emails carry the report (encrypted to a person's pgp_key when they have one);
# "link": no email carries it, only the reference and a link to read it on the service's page.
concern_content = "email"
# true when mentors are paid through Nav's mentor grant (mentortilskudd): the agreement then also
# asks for the mentor's tasks and hours per week, and keeps the period within the grant's limits
# (6 months, or up to 36 months for people with reduced work capacity).
nav_mentor_grant = false

# Who receives concern reports, and in which language their emails are written.
contact = { name = "Kari Kontakt", email = "kontakt@example.org", language = "nb" }
# Reminded too when a concern report is not acknowledged in time.
backup = { name = "Bjørn Backup", email = "backup@example.org", language = "nb" }
# Receive the feedback digest; more than one is allowed.
coordinators = [
  { name = "Kim Koordinator", email = "koordinator@example.org", language = "nb" },
]
# Anyone above may have a public key: emails with a concern report to them are then encrypted
# (PGP/MIME). Give the armoured key, or a file relative to this folder, e.g.
#   contact = { name = "...", email = "...", language = "nb", pgp_key_file = "keys/kontakt.asc" }
#   pgp_key = '''-----BEGIN PGP PUBLIC KEY BLOCK----- ... -----END PGP PUBLIC KEY BLOCK-----'''

# How many days records are kept (concern reports count from their acknowledgement).
[programme.retention_days]
concern = 90
agreement = 730
feedback = 365
"""


class ProgrammeConfigError(ValueError):
    """The programmes file is missing or wrong; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    language: str
    pgp_key: pgp.PublicKey | None = None


@dataclass(frozen=True)
class Organisation:
    """The organisation that runs the deployment and is responsible for its data."""

    name: str
    email: str
    address: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Programme:
    id: str
    names: dict[str, str]
    contact: Person
    backup: Person
    coordinators: tuple[Person, ...]
    concern_deadline_hours: float = 24
    urgent_concern_deadline_hours: float = 4
    digest: str = "mon 08:00"
    concern_content: str = "email"
    retention_days: dict[str, int] = field(default_factory=dict)
    nav_mentor_grant: bool = False

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names["nb"]


@dataclass(frozen=True)
class Programmes:
    time_zone: ZoneInfo
    by_id: dict[str, Programme]
    organisation: Organisation | None = None

    def __iter__(self):
        return iter(self.by_id.values())

    def get(self, programme_id: str) -> Programme | None:
        return self.by_id.get(programme_id)

    def choices(self, language: str) -> list[tuple[str, str]]:
        return [(p.id, p.name(language)) for p in self]


DEFAULT_RETENTION = {"concern": 90, "agreement": 730, "feedback": 365}


def ensure_sample(instance: Path) -> Path:
    """The programmes file, written with the example programme if there is none yet."""
    path = instance / FILE_NAME
    if not path.exists():
        instance.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_text(SAMPLE, encoding="utf-8")
        path.chmod(0o600)
    return path


def load(path: Path) -> Programmes:
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProgrammeConfigError(f"{where}: the file is missing") from None
    except tomllib.TOMLDecodeError as error:
        raise ProgrammeConfigError(f"{where}: not valid TOML: {error}") from None

    zone_name = raw.get("time_zone", "Europe/Oslo")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ProgrammeConfigError(f"{where}: time_zone {zone_name!r} is not a known time zone") from None

    entries = raw.get("programme")
    if not isinstance(entries, list) or not entries:
        raise ProgrammeConfigError(f"{where}: no [[programme]] is defined; add at least one")
    programmes: dict[str, Programme] = {}
    for number, entry in enumerate(entries, start=1):
        programme = _programme(entry, f"{where}: programme {number}", path.parent)
        if programme.id in programmes:
            raise ProgrammeConfigError(f"{where}: programme id {programme.id!r} is used twice")
        programmes[programme.id] = programme
    organisation = _organisation(raw["organisation"], where) if "organisation" in raw else None
    return Programmes(time_zone=zone, by_id=programmes, organisation=organisation)


def _organisation(value, where: str) -> Organisation:
    where = f"{where}: [organisation]"
    if not isinstance(value, dict):
        raise ProgrammeConfigError(f"{where} must be a table with name and email")
    name = value.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ProgrammeConfigError(f"{where}: organisation.name is missing: the organisation's name as people know it")
    try:
        email = validate_email(value.get("email") or "", check_deliverability=False).normalized
    except (EmailNotValidError, TypeError) as error:
        raise ProgrammeConfigError(
            f"{where}: organisation.email {value.get('email')!r} is not valid: {error}"
        ) from None
    extra = {}
    for key in ("address", "phone"):
        text = value.get(key, "")
        if not isinstance(text, str):
            raise ProgrammeConfigError(f"{where}: organisation.{key} must be text in quotes, not {text!r}")
        extra[key] = text.strip()
    return Organisation(name=name.strip(), email=email, **extra)


def _programme(entry: dict, where: str, folder: Path) -> Programme:
    if not isinstance(entry, dict):
        raise ProgrammeConfigError(f"{where}: must be a table")
    programme_id = entry.get("id")
    if not isinstance(programme_id, str) or not _ID.match(programme_id):
        raise ProgrammeConfigError(
            f"{where}: id must be 1-40 lower-case letters, digits or hyphens, not {programme_id!r}"
        )
    where = f"{where} ({programme_id})"
    names = entry.get("name")
    if not isinstance(names, dict) or any(not isinstance(names.get(lang), str) or not names[lang].strip() for lang in LANGUAGES):
        raise ProgrammeConfigError(f"{where}: name needs a text for each of {', '.join(LANGUAGES)}")
    coordinators = entry.get("coordinators")
    if not isinstance(coordinators, list) or not coordinators:
        raise ProgrammeConfigError(f"{where}: coordinators must list at least one person")
    digest = entry.get("digest", "mon 08:00")
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise ProgrammeConfigError(f"{where}: digest must be like \"mon 08:00\" or \"daily 07:30\", not {digest!r}")
    concern_content = entry.get("concern_content", "email")
    if concern_content not in CONCERN_CONTENT:
        raise ProgrammeConfigError(f"{where}: concern_content must be \"email\" or \"link\", not {concern_content!r}")
    retention = {**DEFAULT_RETENTION, **entry.get("retention_days", {})}
    for kind, days in retention.items():
        if not isinstance(days, int) or days < 1:
            raise ProgrammeConfigError(f"{where}: retention_days.{kind} must be a whole number of days, at least 1")
    grant = entry.get("nav_mentor_grant", False)
    if not isinstance(grant, bool):
        raise ProgrammeConfigError(f"{where}: nav_mentor_grant must be true or false, not {grant!r}")
    return Programme(
        id=programme_id,
        names={lang: names[lang].strip() for lang in LANGUAGES},
        contact=_person(entry.get("contact"), f"{where}: contact", folder),
        backup=_person(entry.get("backup"), f"{where}: backup", folder),
        coordinators=tuple(_person(p, f"{where}: coordinators[{i}]", folder) for i, p in enumerate(coordinators)),
        concern_deadline_hours=_hours(entry, "concern_deadline_hours", 24, where),
        urgent_concern_deadline_hours=_hours(entry, "urgent_concern_deadline_hours", 4, where),
        digest=digest,
        concern_content=concern_content,
        retention_days=retention,
        nav_mentor_grant=grant,
    )


def _hours(entry: dict, key: str, default: float, where: str) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 24 * 14:
        raise ProgrammeConfigError(f"{where}: {key} must be a number of hours between 0 and 336")
    return float(value)


def _person(value, where: str, folder: Path) -> Person:
    if not isinstance(value, dict):
        raise ProgrammeConfigError(f"{where} is missing: give name, email and language")
    name, email, language = value.get("name"), value.get("email"), value.get("language", "nb")
    if not isinstance(name, str) or not name.strip():
        raise ProgrammeConfigError(f"{where}: name is missing")
    try:
        email = validate_email(email or "", check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ProgrammeConfigError(f"{where}: email {value.get('email')!r} is not valid: {error}") from None
    if language not in LANGUAGES:
        raise ProgrammeConfigError(f"{where}: language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    return Person(name=name.strip(), email=email, language=language,
                  pgp_key=_key(value, f"{where} ({name.strip()})", folder))


def _key(value: dict, where: str, folder: Path) -> pgp.PublicKey | None:
    """The person's public key, from ``pgp_key`` (armoured text) or ``pgp_key_file``, checked by gpg."""
    text, file = value.get("pgp_key"), value.get("pgp_key_file")
    if text is not None and file is not None:
        raise ProgrammeConfigError(f"{where}: give pgp_key or pgp_key_file, not both")
    if file is not None:
        if not isinstance(file, str) or not file.strip():
            raise ProgrammeConfigError(f"{where}: pgp_key_file must be a path relative to {folder}")
        try:
            text = (folder / file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ProgrammeConfigError(f"{where}: pgp_key_file {file!r} cannot be read: "
                                       f"{getattr(error, 'strerror', None) or error}") from None
        where = f"{where}: pgp_key_file {file!r}"
    elif text is None:
        return None
    else:
        where = f"{where}: pgp_key"
    try:
        return pgp.parse(text)
    except pgp.KeyInvalid as error:
        raise ProgrammeConfigError(f"{where} cannot be used: {error}") from None
