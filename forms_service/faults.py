"""Named points where a test can make the process die, to prove that nothing is lost or sent twice.

``point(name)`` does nothing unless the environment variable FORMS_CRASH_AT names that point;
then the process exits at once (``os._exit``: no clean-up, as under SIGKILL). Only the crash
tests set it.
"""

from __future__ import annotations

import os


def point(name: str) -> None:
    if os.environ.get("FORMS_CRASH_AT") == name:
        os._exit(70)
