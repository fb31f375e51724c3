"""A browser without a browser: one cookie jar that signs in through the emulator.

Like a browser with ``SameSite=Lax`` cookies: every GET navigation to the app carries the
app's cookies; the authority's cross-site ``form_post`` to the app carries none. The
emulator's documented contract stands in for a person at its sign-in page: POST the authorize
URL's parameters back to the same path with ``user=<upn>``; it answers like Azure AD, with a
302 (``response_mode=query``) or an auto-submitting form (``form_post``).

A page that sends the browser on with ``<meta http-equiv="refresh">`` (``identity``'s login
page does) is followed like a redirect.

A sign-in is two halves, so a benchmark can hold many at the callback and release them at once:
``begin`` (app ``/login`` -> authority) returns the :class:`Callback` the authority sends
back; ``finish`` delivers it to the app and follows the app's redirects to the landing page.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests

from benchmarks._procs import BenchError

USER = "adele.vance@contoso.example"
USER_NAME = "Adele Vance"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_META_REFRESH = re.compile(r"""<meta\s+http-equiv=['"]refresh['"]\s+content=['"]\d+;\s*URL=([^'"]+)['"]""", re.I)


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
    if not parser.action:
        raise BenchError("the authority's answer holds no form")
    return parser.action, parser.fields


@dataclass(frozen=True, slots=True)
class Callback:
    """What the authority sends the browser back to the app with."""

    method: str  # "POST" (form_post, cross-site: no cookies) or "GET" (query)
    url: str
    fields: dict[str, str]


class SignInClient:
    """One browser. Not thread-safe: give each thread its own."""

    def __init__(self, *, user: str = USER, timeout: float = 30) -> None:
        self.user = user
        self.timeout = timeout
        self.app = requests.Session()  # the app's cookies live here
        # A browser's navigation asks for HTML: the gate redirects it to sign in (an API call gets a 401).
        self.app.headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        self.authority = requests.Session()  # keep-alive to the emulator, its cookies apart

    def close(self) -> None:
        self.app.close()
        self.authority.close()

    def cookie_header(self) -> str:
        """The app's cookies as one ``Cookie:`` header value (for a load generator)."""
        return "; ".join(f"{c.name}={c.value}" for c in self.app.cookies)

    def begin(self, app_url: str, start: str = "/login") -> Callback:
        """GET the app's ``start`` page up to the authority, and sign in there."""
        url = app_url + start
        for _ in range(5):
            resp = self.app.get(url, allow_redirects=False, timeout=self.timeout)
            if resp.status_code in _REDIRECTS:
                url = urljoin(url, resp.headers["Location"])
            elif resp.status_code == 200 and (refresh := _META_REFRESH.search(resp.text)):
                url = urljoin(url, html.unescape(refresh.group(1)))  # identity's login page
            else:
                raise BenchError(f"expected a redirect to the authority from {url}, got {resp.status_code}")
            if not url.startswith(app_url):
                break
        else:
            raise BenchError("the app never sent the browser to the authority")
        parts = urlsplit(url)
        form = {**dict(parse_qsl(parts.query, keep_blank_values=True)), "user": self.user}
        signed = self.authority.post(f"{parts.scheme}://{parts.netloc}{parts.path}", data=form,
                                     allow_redirects=False, timeout=self.timeout)
        if signed.status_code in _REDIRECTS:  # response_mode=query
            return Callback("GET", urljoin(url, signed.headers["Location"]), {})
        if signed.status_code != 200:
            raise BenchError(f"the authority refused the sign-in: {signed.status_code} {signed.text[:300]}")
        action, fields = parse_form_post(signed.text)
        return Callback("POST", urljoin(url, action), fields)

    def finish(self, callback: Callback) -> requests.Response:
        """Deliver ``callback`` to the app and follow its redirects to the landing page (200)."""
        if callback.method == "POST":
            # Cross-site POST: a SameSite=Lax cookie is not sent; cookies set here are kept.
            resp = requests.post(callback.url, data=callback.fields, allow_redirects=False, timeout=self.timeout)
            self.app.cookies.update(resp.cookies)
            url = callback.url
        else:
            url = callback.url
            resp = self.app.get(url, allow_redirects=False, timeout=self.timeout)
        for _ in range(5):
            if resp.status_code not in _REDIRECTS:
                break
            url = urljoin(url, resp.headers["Location"])
            resp = self.app.get(url, allow_redirects=False, timeout=self.timeout)
        if resp.status_code != 200:
            raise BenchError(f"the sign-in did not land on a page: {resp.status_code} at {urlsplit(url).path}: "
                             f"{resp.text[:300]}")
        return resp

    def sign_in(self, app_url: str, start: str = "/login") -> requests.Response:
        """One whole sign-in; raises :class:`BenchError` unless the landing page greets the user."""
        page = self.finish(self.begin(app_url, start))
        if USER_NAME not in page.text:
            raise BenchError(f"signed in, but the landing page does not name {USER_NAME}: {page.text[:300]}")
        return page


def access_token(emulator_url: str, redirect_uri: str, *, user: str = USER) -> str:
    """An access token for Graph, the way aadweb gets one: :class:`aadweb.authority.Authority`
    builds the authorize URL (code flow, PKCE), the emulator signs ``user`` in, the code is
    redeemed. ``redirect_uri`` must be registered at the emulator."""
    import secrets

    from aadweb.authority import Authority
    from aadweb.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID
    from aadweb.protocol.pkce import code_challenge_s256
    from aadweb.secret import Secret
    from aadweb.settings import Settings
    from aadweb.transport import RequestsTransport

    settings = Settings(tenant=DEMO_TENANT_ID, client_id=DEMO_CLIENT_ID,
                        client_secret=Secret("client_secret", DEMO_CLIENT_SECRET), authority_host=emulator_url,
                        graph_url=f"{emulator_url}/v1.0/me", redirect_uri=redirect_uri, response_type="code",
                        session_store="memory:")
    verifier = Secret("code_verifier", secrets.token_urlsafe(48))
    with RequestsTransport(timeout=30) as transport:
        authority = Authority(settings, transport)
        url = authority.authorize_url(state=secrets.token_urlsafe(16), nonce=Secret("nonce", secrets.token_urlsafe(16)),
                                      code_challenge=code_challenge_s256(verifier))
        parts = urlsplit(url)
        signed = requests.post(f"{parts.scheme}://{parts.netloc}{parts.path}",
                               data={**dict(parse_qsl(parts.query)), "user": user}, allow_redirects=False, timeout=30)
        if signed.status_code not in _REDIRECTS:
            raise BenchError(f"the authority did not send a code: {signed.status_code} {signed.text[:300]}")
        code = dict(parse_qsl(urlsplit(signed.headers["Location"]).query)).get("code")
        if not code:
            raise BenchError(f"no code in the authority's answer: {signed.headers['Location'][:200]}")
        tokens = authority.redeem_code(Secret("code", code), code_verifier=verifier)
    return tokens.access_token.reveal()
