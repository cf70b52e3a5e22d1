"""`python -m forms_service` (what `make run` starts): the handbook and its forms on one machine.

This is the development server: debug settings are on unless FORMS_DEBUG=0, so a development
secret key and an example programme are written to the instance folder on first run. Production
runs the app under gunicorn instead (see the README).
"""

import os

from werkzeug.serving import run_simple

from . import create_app
from .settings import ConfigError


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    os.environ.setdefault("FORMS_DEBUG", "1")
    try:
        app = create_app()
    except ConfigError as error:
        print(f"Cannot start: {error}")
        return 2
    print(f"Instance folder (data and programmes.toml): {app.instance_path}")
    print(f"The mentor handbook is at http://127.0.0.1:{port}/ (Ctrl+C stops it)")
    run_simple("127.0.0.1", port, app, threaded=True, use_reloader=False, use_debugger=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
