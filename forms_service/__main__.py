"""`python -m forms_service`: the handbook and its forms on http://127.0.0.1:$PORT (default 8000)."""

import os

from . import create_app


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    app = create_app()
    print(f"The mentor handbook is at http://127.0.0.1:{port}/ (Ctrl+C stops it)")
    app.run(host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
