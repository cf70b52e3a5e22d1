"""`python -m forms_service` (what `make run` starts): the handbook and its forms on one machine.

This is the development server: debug settings are on unless FORMS_DEBUG=0, so a development
secret key and an example programme are written to the instance folder on first run. Production
runs the app under gunicorn instead (see the README).
"""

import os

from werkzeug.serving import WSGIRequestHandler, run_simple

from . import create_app, mail
from .scheduler import start_in_background
from .settings import ConfigError


class QuietHandler(WSGIRequestHandler):
    """werkzeug's request handler without its name and version in the Server header."""

    def version_string(self) -> str:
        return "mentor-handbook"


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    os.environ.setdefault("FORMS_DEBUG", "1")
    os.environ.setdefault("FORMS_PUBLIC_URL", f"http://127.0.0.1:{port}")
    try:
        app = create_app()
    except ConfigError as error:
        print(f"Cannot start: {error}")
        return 2
    # No reloader runs this twice; a second process on the same instance folder waits as a standby.
    scheduler = start_in_background(app)
    with app.app_context():
        print(f"Instance folder (data and programmes.toml): {app.instance_path}")
        print(f"Email: {mail.transport().describe()}")
    print(f"The mentor handbook is at http://127.0.0.1:{port}/ (Ctrl+C stops it)")
    try:
        run_simple("127.0.0.1", port, app, threaded=True, use_reloader=False, use_debugger=False,
                   request_handler=QuietHandler)
    finally:
        scheduler.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
