"""PGP/MIME encryption (RFC 3156) of concern emails to a person's public key, with the system's gpg.

Keys come from ``programmes.toml`` (``pgp_key`` or ``pgp_key_file``): each is checked when the
file is loaded (``parse``) and imported at start-up into a GNUPGHOME of the service's own,
``<instance>/gnupg`` (0700). Whether a key still works (expired, revoked, no usable encryption
subkey) is gpg's judgement, asked each time an email is written, so a key that expires while
the service runs is noticed at once.

The email is encrypted when it is queued, not when it is sent. The outbox then never holds the
plain text of an email that goes encrypted (only the armoured message, readable by the key's
owner alone), so there is nothing to drop after sending and nothing to leak from a backup of
the instance folder; every retry sends the same bytes under the same Message-ID; and a key
that cannot be used is found where the email is written, so that the variant without the
report can be written instead and the admin told in the same step (see concern_mail.py).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP
from pathlib import Path

import gnupg
from flask import Flask, current_app

HOME = "gnupg"
# check-config warns this long before a key stops working.
WARN_BEFORE = timedelta(days=30)


class KeyInvalid(ValueError):
    """The text is not one public key that can encrypt; the message says why."""


@dataclass(frozen=True)
class KeyProblem:
    """Why a key cannot be used now: ``expired`` (with the time), ``revoked`` or ``unusable``."""

    code: str
    expired: datetime | None = None

    def describe(self) -> str:
        if self.code == "expired" and self.expired:
            return f"expired on {self.expired:%Y-%m-%d}"
        return {"revoked": "revoked", "expired": "expired"}.get(self.code, "has no usable encryption key")


class KeyUnusable(Exception):
    """gpg refused to encrypt to the key."""

    def __init__(self, problem: KeyProblem):
        super().__init__(problem.describe())
        self.problem = problem


@dataclass(frozen=True)
class PublicKey:
    """A person's public key as configured: the armoured text and what gpg read from it."""

    armored: str = ""
    fingerprint: str = ""
    uids: tuple[str, ...] = ()
    expires: datetime | None = None

    def __repr__(self) -> str:
        return f"PublicKey({self.fingerprint})"


def _gpg(home: str | Path) -> gnupg.GPG:
    return gnupg.GPG(gnupghome=str(home), options=["--no-autostart", "--no-auto-key-retrieve"])


def _time(stamp: str | None) -> datetime | None:
    return datetime.fromtimestamp(int(stamp), timezone.utc) if stamp else None


def _encryption_expiry(info: dict) -> datetime | None:
    """When the key stops encrypting: the primary key's expiry or its encryption subkeys' latest."""
    primary = _time(info.get("expires"))
    subkeys = [s for s in (info.get("subkey_info") or {}).values() if "e" in s.get("cap", "")]
    ends = [_time(s.get("expires")) for s in subkeys if s.get("trust") not in ("e", "r")]
    if "e" in info.get("cap", ""):  # lower case: the primary key encrypts itself (an RSA key may)
        ends.append(primary)
    subkey_end = None if not ends or None in ends else max(ends)
    found = [moment for moment in (primary, subkey_end) if moment]
    return min(found) if found else None


def parse(armored: str) -> PublicKey:
    """Read one public key from armoured text, or KeyInvalid saying what is wrong with it."""
    if not isinstance(armored, str) or "-----BEGIN PGP" not in armored:
        raise KeyInvalid("not an ASCII-armoured key (it should start with -----BEGIN PGP PUBLIC KEY BLOCK-----)")
    try:
        with tempfile.TemporaryDirectory(prefix="forms-gpg-") as home:
            found = _gpg(home).scan_keys_mem(armored)
    except OSError as error:
        raise KeyInvalid(f"gpg cannot be run ({error}): install GnuPG (Debian: apt-get install gnupg)") from None
    if any(key.get("type") == "sec" for key in found):
        raise KeyInvalid("this is a secret key: give the public key only (gpg --armor --export FINGERPRINT)")
    if not found:
        raise KeyInvalid("gpg found no public key in it (cut short, or not a key)")
    if len(found) > 1:
        raise KeyInvalid(f"it holds {len(found)} keys: give exactly one")
    [info] = found
    capabilities = info.get("cap", "").lower() + "".join(
        s.get("cap", "") for s in (info.get("subkey_info") or {}).values())
    if "e" not in capabilities:
        raise KeyInvalid(f"key {info['fingerprint']} cannot encrypt (it has no encryption subkey)")
    return PublicKey(armored=armored, fingerprint=info["fingerprint"], uids=tuple(info.get("uids") or ()),
                     expires=_encryption_expiry(info))


def problem_of(info: dict | None) -> KeyProblem | None:
    """Why a key, as gpg lists it, cannot encrypt now; None when it can."""
    if info is None:
        return KeyProblem("unusable")
    if "E" in info.get("cap", ""):
        return None
    if info.get("trust") == "r":
        return KeyProblem("revoked")
    if info.get("trust") == "e":
        return KeyProblem("expired", _time(info.get("expires")))
    subkeys = [s for s in (info.get("subkey_info") or {}).values() if "e" in s.get("cap", "")]
    if subkeys and all(s.get("trust") == "r" for s in subkeys):
        return KeyProblem("revoked")
    if any(s.get("trust") == "e" for s in subkeys):
        ends = [_time(s.get("expires")) for s in subkeys if s.get("trust") == "e" and s.get("expires")]
        return KeyProblem("expired", max(ends) if ends else None)
    return KeyProblem("unusable")


class Keyring:
    """The service's own GNUPGHOME: the configured keys, imported at start-up."""

    def __init__(self, home: Path):
        self.home = home
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(home, 0o700)  # gpg warns about, and people should not get, a readable home
        self.gpg = _gpg(home)

    def import_keys(self, keys) -> None:
        armored = "\n".join(key.armored for key in keys)
        if armored:
            result = self.gpg.import_keys(armored)
            if not result.fingerprints:
                raise KeyInvalid(f"gpg could not import the configured keys into {self.home}: {result.stderr[-300:]}")

    def info(self, key: PublicKey) -> dict | None:
        found = self.gpg.list_keys(keys=[key.fingerprint])
        return found[0] if found else None

    def problem(self, key: PublicKey) -> KeyProblem | None:
        """Why the key cannot be used now, as gpg sees it; None when it can."""
        return problem_of(self.info(key))

    def encrypt(self, data: bytes, key: PublicKey) -> str:
        """``data`` encrypted to the key, armoured; KeyUnusable when gpg refuses."""
        # Trusted because the operator put it in the programmes file: there is no web of trust to ask.
        result = self.gpg.encrypt(data, [key.fingerprint], armor=True, always_trust=True)
        if not result.ok:
            raise KeyUnusable(self.problem(key) or KeyProblem("unusable"))
        return str(result)


def configured_keys(programmes) -> list[tuple[object, str, object]]:
    """(programme, role, person) for every person in the programmes file who has a key."""
    found = []
    for programme in programmes:
        people = [("contact", programme.contact), ("backup", programme.backup)]
        people += [("coordinator", person) for person in programme.coordinators]
        found += [(programme, role, person) for role, person in people if person.pgp_key is not None]
    return found


def key_report(programmes, now: datetime) -> list[tuple[str, bool]]:
    """For check-config: a line per configured key, and whether it works (expiring soon still does)."""
    lines = []
    for programme, role, person in configured_keys(programmes):
        key = person.pgp_key
        who = f"PGP key of {person.name} ({role} of {programme.id}, {key.fingerprint})"
        info = keyring().info(key)
        problem = problem_of(info)
        expires = _encryption_expiry(info) if info else key.expires
        if problem:
            lines.append((f"{who}: PROBLEM, {problem.describe()}; concern emails to them go without the report "
                          "until a key that works is configured", False))
        elif expires and expires - now <= WARN_BEFORE:
            days = max((expires - now).days, 0)
            lines.append((f"{who}: WARNING, expires on {expires:%Y-%m-%d} (in {days} days); "
                          "ask for an extended key", True))
        else:
            lines.append((f"{who}: OK, " + (f"expires on {expires:%Y-%m-%d}" if expires else "does not expire"),
                          True))
        if not any(person.email.lower() in uid.lower() for uid in key.uids):
            lines.append((f"{who}: note, none of its user IDs names {person.email}", True))
    return lines


def init_app(app: Flask) -> None:
    """Import the configured keys into the service's GNUPGHOME; nothing is created without keys."""
    from .settings import ConfigError  # settings loads the programmes, which use this module

    people = configured_keys(app.extensions["programmes"])
    if people:
        try:
            keyring = Keyring(Path(app.instance_path) / HOME)
            keyring.import_keys(dict.fromkeys(person.pgp_key for _, _, person in people))
        except (KeyInvalid, OSError) as error:
            raise ConfigError(f"The PGP keys of the programmes file cannot be imported: {error}") from None
        app.extensions["pgp"] = keyring


def keyring() -> Keyring:
    return current_app.extensions["pgp"]


# -- PGP/MIME ---------------------------------------------------------------------------------

def seal(key: PublicKey, text: str, html: str) -> dict:
    """The outbox fields of an email whose whole body (text and HTML) is encrypted to ``key``."""
    inner = EmailMessage()
    inner.set_content(text)
    inner.add_alternative(html, subtype="html")
    # RFC 3156 encrypts the MIME entity in its canonical form, with CRLF line ends.
    armored = keyring().encrypt(inner.as_bytes(policy=SMTP), key)
    return {"text": None, "html": None, "pgp": armored}


def set_encrypted_body(message: EmailMessage, armored: str) -> None:
    """Make ``message`` a multipart/encrypted message (RFC 3156 section 4) holding ``armored``."""
    control = MIMEPart()
    control.set_content(b"Version: 1\r\n", "application", "pgp-encrypted", cte="7bit")
    control["Content-Description"] = "PGP/MIME version identification"
    payload = MIMEPart()
    payload.set_content(armored.encode("ascii"), "application", "octet-stream", cte="7bit",
                        disposition="inline", filename="encrypted.asc")
    payload["Content-Description"] = "OpenPGP encrypted message"
    message["MIME-Version"] = "1.0"
    message["Content-Type"] = 'multipart/encrypted; protocol="application/pgp-encrypted"'
    message.set_payload([control, payload])
