"""Security headers and cookies, on static files and on the service's own pages."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from conftest import csrf_token

PAGES = ["/", "/en/steps/1-relationship/", "/forms/concern/", "/da/forms/agreement/", "/no-such-page/"]


def inline_scripts(html: str) -> list[str]:
    return [body for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
            if "src=" not in attrs and "application/json" not in attrs]


@pytest.mark.parametrize("path", PAGES)
def test_headers_on_every_page(client, path):
    response = client.get(path)
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    policy = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    script_src = re.search(r"script-src ([^;]+)", policy).group(1)
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    assert "Strict-Transport-Security" not in headers, "no HSTS over plain HTTP"
    # Every inline script of the page is allowed by its hash, and nothing else is.
    scripts = inline_scripts(response.get_data(as_text=True))
    assert scripts
    for body in scripts:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src


def test_headers_on_assets(client):
    response = client.get("/assets/stylesheets/handbook.css")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", ["/", "/forms/concern/", "/assets/stylesheets/handbook.css", "/nothing/"])
def test_hsts_over_https(client, path):
    response = client.get(path, base_url="https://handbook.test")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_session_cookie_flags(client):
    response = client.get("/forms/concern/")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_when_served_over_https(built_site, tmp_path):
    from conftest import SECRET

    from forms_service import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "SITE_DIR": str(built_site),
                      "INSTANCE_PATH": str(tmp_path / "i"), "PUBLIC_URL": "https://handbook.test",
                      "PROXY_COUNT": 1})
    client = app.test_client()
    response = client.get("/forms/concern/", headers={"X-Forwarded-Proto": "https"})
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"]
    assert csrf_token(client, "/forms/concern/")


def test_service_pages_are_gzipped_with_the_same_policy(client):
    plain = client.get("/forms/concern/")
    packed = client.get("/forms/concern/", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert len(packed.data) < len(plain.data) / 3
    assert packed.headers["Content-Security-Policy"] == plain.headers["Content-Security-Policy"]
