"""Benchmark of amplification: how many bytes on disk one maximal concern report becomes.

Run with `.venv/bin/python bench/amplification.py` (after `make site translations`). It posts a
concern report with every field at its limit to a fresh instance folder (mail to .eml files),
runs the scheduler's jobs with an advancing clock through every reminder and escalation, and
prints the bytes posted, the bytes the instance folder gained (records, outbox, .eml files), and
their ratio, once for ASCII text and once for Norwegian text (æ, ø, å: two bytes in UTF-8, more
once escaped).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from forms_service import create_app, scheduler  # noqa: E402
from forms_service.concern import CONCERNS  # noqa: E402
from forms_service.programmes import SAMPLE  # noqa: E402

WORK = ROOT / "bench" / ".work"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"
MARKER = "OBSERVED-MARKER "  # counts the copies of the report's text on disk


def copies(folder: Path) -> int:
    return sum(path.read_bytes().count(MARKER.strip().encode()) for path in folder.rglob("*") if path.is_file())


def maximal_report(letter: str) -> dict:
    """A concern report with every text field at its limit."""
    def text(n: int) -> str:
        """Lines of 80 characters (79 and a line break), n characters in all."""
        return ((letter * 79 + "\n") * (n // 80 + 1))[:n - 1] + letter

    return {
        "programme": "example",
        "concerns": [choice.value for choice in CONCERNS],
        "other": letter * 500,
        "urgency": "soon",
        "observed": MARKER + text(4000 - len(MARKER)),
        "actions": text(2000),
        "mentee_knows": "no",
        "reporter_name": letter * 100,
        "reporter_email": "reporter@example.org",
        "reporter_phone": "+47 900 00 000 / 22 00 00 00 0", "mentee_name": "Ali Mentee", "workplace": "The warehouse",  # 30 characters
    }


def folder_bytes(folder: Path) -> dict[str, int]:
    """Bytes per part of an instance folder: each data kind, and the mail files."""
    sizes: dict[str, int] = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.name.endswith(".lock"):
            relative = path.relative_to(folder).parts
            part = "/".join(relative[:2]) if relative[0] == "data" else relative[0]
            sizes[part] = sizes.get(part, 0) + path.stat().st_size
    return sizes


def run(letter: str) -> None:
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        instance = Path(tmp) / "instance"
        instance.mkdir()
        (instance / "programmes.toml").write_text(SAMPLE, encoding="utf-8")
        app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(instance),
                          "FORM_RATE_LIMIT": "1000 per minute", "PUBLIC_URL": "https://handbook.example.org"})
        client = app.test_client()
        page = client.get("/forms/concern/").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        before = folder_bytes(instance)
        body = urlencode({**maximal_report(letter), "csrf_token": token}, doseq=True).encode("ascii")
        response = client.post("/forms/concern/", data=body, content_type="application/x-www-form-urlencoded")
        assert response.status_code == 303, response.status_code
        store = app.extensions["store"]
        [record] = store.list("concern")
        after_post = folder_bytes(instance)
        # The first run sends the report; then each deadline (24 hours) passes without an
        # acknowledgement until the reminders are used up.
        for hours in (0.02, 25, 49, 73, 97, 200):
            with app.test_request_context():
                scheduler.run_due(record.created + timedelta(hours=hours))
        after = folder_bytes(instance)
        mails = len(list((instance / "mail").glob("*.eml")))
        copied = copies(instance)
        outbox = store.count("outbox")

    def gained(sizes):
        return sum(sizes.values()) - sum(before.values())

    posted = len(body)
    print(f"\n{'ASCII' if letter.isascii() else 'Norwegian'} text ('{letter}'), {posted:,} bytes posted:")
    print(f"  after the post:      {gained(after_post):>9,} bytes   ratio {gained(after_post) / posted:5.2f}")
    print(f"  after the reminders: {gained(after):>9,} bytes   ratio {gained(after) / posted:5.2f}"
          f"   ({outbox} outbox records, {mails} .eml files)")
    print(f"  copies of the report's text on disk: {copied}")
    smtp = gained(after) - (after.get("mail", 0) - before.get("mail", 0))
    print(f"  with SMTP (no .eml files): {smtp:>9,} bytes   ratio {smtp / posted:5.2f}")
    for part in sorted(set(after) | set(before)):
        grown = after.get(part, 0) - before.get(part, 0)
        if grown:
            print(f"    {part:22} {grown:>9,} bytes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    for letter in ("x", "ø"):
        run(letter)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
