"""The mount point (``SCRIPT_NAME``) never turns the app's own redirects and links into another site's.

Every URL the app makes starts with its mount point. ``SCRIPT_NAME=//evil.example`` would make
``/`` redirect to ``//evil.example/login``: a protocol-relative URL, another host. A mount point
is empty, or ``/`` followed by a path that does not start with ``/`` or ``\\`` (browsers read
``/\\`` as ``//``), without control characters; anything else is refused with the 400 page,
whose own links then use the site root. The real app, called with a WSGI environ as gunicorn,
a dispatcher or a proxy header would set it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from aadweb.secret import Secret
from aadweb.web import AadWebApp, create_app
from tests.conftest import emulator_settings

HOSTILE = [
    "//evil.example",
    "//evil.example/",
    "///evil.example",
    "/\\evil.example",
    "/\\/evil.example",
    "/x\\evil.example",
    "evil.example",
    "x",
    "/auth\r\nLocation: //evil.example",
    "/auth\x00",
    "/auth x",
]
FINE = {"": "", "/": "", "/auth": "/auth", "/auth/": "/auth", "/a/b": "/a/b", "/caf\xc3\xa9": "/caf%C3%A9"}


@pytest.fixture
def app(emulator_url: str) -> Iterator[AadWebApp]:
    application = create_app(emulator_settings(emulator_url, secret_key=Secret("secret_key", "x" * 40)))
    try:
        yield application
    finally:
        application.close()


def _get(app: AadWebApp, script_name: str, path: str = "/") -> tuple[int, dict[str, str], str]:
    environ = EnvironBuilder(path=path, base_url="http://localhost:5000/",
                             headers={"Accept": "text/html"}).get_environ()
    environ["SCRIPT_NAME"] = script_name  # as a WSGI server (or a header it trusts) sets it
    body, status, headers = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0]), dict(headers), b"".join(body).decode()


@pytest.mark.parametrize("script_name", HOSTILE)
@pytest.mark.parametrize("path", ["/", "/graphcall", "/login", "/logout", "/nowhere"])
def test_a_malformed_mount_point_is_refused_with_a_400_page_linking_only_to_this_site(
    app: AadWebApp, script_name: str, path: str
) -> None:
    status, headers, page = _get(app, script_name, path)
    assert status == 400
    assert "Location" not in headers
    assert "This request could not be understood" in page
    for link in re.findall(r'(?:href|src|action)="([^"]*)"', page):
        assert link.startswith("/") and not link.startswith(("//", "/\\")), link
    assert "evil.example" not in page


@pytest.mark.parametrize(("script_name", "root"), sorted(FINE.items()))
def test_a_well_formed_mount_point_prefixes_the_redirect(app: AadWebApp, script_name: str, root: str) -> None:
    status, headers, _ = _get(app, script_name, "/")
    assert status == 302
    assert headers["Location"] == f"{root}/login"
