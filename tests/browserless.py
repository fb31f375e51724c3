"""Drive the emulator's sign-in page the way a browser would, without a browser.

The emulator's documented contract: POST the authorize URL's parameters back to the same path
with ``user=<upn>``; it answers like Azure AD, with a 302 (query mode) or an auto-submitting
form (form_post mode). These helpers return the callback's fields.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import requests


class _FormFields(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = a.get("action")
        if tag == "input" and a.get("type") == "hidden" and a.get("name"):
            self.fields[a["name"] or ""] = a.get("value") or ""


def parse_form_post(html: str) -> tuple[str, dict[str, str]]:
    """(action, hidden fields) of an auto-submitting form_post page."""
    parser = _FormFields()
    parser.feed(html)
    assert parser.action, "no form in the page"
    return parser.action, parser.fields


def sign_in(authorize_url: str, user: str = "adele.vance@contoso.example", timeout: float = 10) -> dict[str, str]:
    """Sign ``user`` in at the emulator; return the fields the authority sends to the redirect URI."""
    parts = urlsplit(authorize_url)
    params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    form = {**params, "user": user}
    resp = requests.post(f"{parts.scheme}://{parts.netloc}{parts.path}", data=form, allow_redirects=False,
                         timeout=timeout)
    if resp.status_code in (302, 303):
        location = urlsplit(resp.headers["Location"])
        return {k: v[0] for k, v in parse_qs(location.query, keep_blank_values=True).items()}
    assert resp.status_code == 200, resp.text[:500]
    return parse_form_post(resp.text)[1]
