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


class Browser:
    """A cookie-jar client that follows redirects by hand, like a browser with SameSite=Lax.

    The authority's form_post to the app is sent WITHOUT the app's cookies (cross-site POST);
    every GET navigation carries them. ``hops`` records (method, url, status) of each leg.
    """

    def __init__(self, timeout: float = 15) -> None:
        self.http = requests.Session()
        self.timeout = timeout
        # A browser's navigation asks for HTML: the gate redirects it to sign in (an API call gets a 401).
        self.http.headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        self.hops: list[tuple[str, str, int]] = []

    def _send(self, method: str, url: str, *, data: dict[str, str] | None = None,
              cookies: bool = True) -> requests.Response:
        if cookies:
            resp = self.http.request(method, url, data=data, allow_redirects=False, timeout=self.timeout)
        else:
            resp = requests.request(method, url, data=data, allow_redirects=False, timeout=self.timeout)
            self.http.cookies.update(resp.cookies)
        self.hops.append((method, url, resp.status_code))
        return resp

    def get(self, url: str, *, max_hops: int = 10) -> requests.Response:
        """GET ``url`` and follow redirects (bounded)."""
        resp = self._send("GET", url)
        for _ in range(max_hops):
            if resp.status_code not in (301, 302, 303, 307, 308):
                return resp
            url = requests.compat.urljoin(url, resp.headers["Location"])
            resp = self._send("GET", url)
        raise AssertionError(f"more than {max_hops} redirects: {self.hops[-max_hops:]}")

    def sign_in(self, app_url: str, user: str = "adele.vance@contoso.example", start: str = "/") -> requests.Response:
        """From ``start`` through the emulator's page to the app; the final response."""
        page = self.get(app_url + start)
        assert "<form" in page.text, f"expected the emulator's sign-in page, got {page.status_code}"
        action, fields = parse_form_post(page.text)
        signed = self._send("POST", requests.compat.urljoin(page.url, action), data={**fields, "user": user},
                            cookies=False)
        if signed.status_code in (302, 303):  # query mode: a GET to the app, with cookies
            return self.get(requests.compat.urljoin(page.url, signed.headers["Location"]))
        assert signed.status_code == 200, signed.text[:300]
        target, callback = parse_form_post(signed.text)
        posted = self._send("POST", target, data=callback, cookies=False)  # cross-site: no cookie
        assert posted.status_code == 303, (posted.status_code, posted.text[:300])
        return self.get(requests.compat.urljoin(target, posted.headers["Location"]))
