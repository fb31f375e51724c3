"""A small cookie-jar "browser" for driving the real app and the real emulator over sockets.

It never follows a redirect by itself: every hop is a call the test can see (``hops``). It
keeps the app's cookies the way a browser would under ``SameSite=Lax``:

* app cookies go with every request *to the app*: same-site requests and top-level GET
  navigations arriving from the authority (the code flow's 302 back to ``/getAToken``);
* they do **not** go with the authority's cross-site ``form_post`` POST (``deliver``): a real
  browser leaves ``SameSite=Lax`` cookies off a cross-site POST;
* they never go to the authority (a different site, as login.microsoftonline.com is).

``Set-Cookie`` is parsed by hand so tests can check the attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from tests.browserless import parse_form_post

USER = "adele.vance@contoso.example"
MAX_HOPS = 12


@dataclass
class Cookie:
    name: str
    value: str
    attributes: dict[str, str] = field(default_factory=dict)  # lower-case names; flags map to ""


def parse_set_cookie(header: str) -> Cookie:
    first, *rest = header.split(";")
    name, _, value = first.strip().partition("=")
    attributes: dict[str, str] = {}
    for part in rest:
        key, _, val = part.strip().partition("=")
        attributes[key.lower()] = val
    return Cookie(name=name, value=value, attributes=attributes)


def _expired(cookie: Cookie) -> bool:
    return cookie.attributes.get("max-age") == "0" or "1970" in cookie.attributes.get("expires", "")


@dataclass
class Callback:
    """What the authority sends the browser back with: a form_post page or a 302."""

    mode: str  # "form_post" or "query"
    url: str  # the form's action, or the Location
    fields: dict[str, str]


class Browser:
    def __init__(self, app_url: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(app_url)
        self.app_origin = f"{parts.scheme}://{parts.netloc}"
        self.app_url = app_url.rstrip("/")
        self.timeout = timeout
        self.cookies: dict[str, Cookie] = {}
        self.hops: list[requests.Response] = []
        self.http = requests.Session()
        self.http.trust_env = False
        # A browser's navigation asks for HTML: the gate redirects it to sign in (an API call gets a 401).
        self.http.headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

    # --- one hop --------------------------------------------------------------------------

    def _is_app(self, url: str) -> bool:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" == self.app_origin

    def absolute(self, url: str) -> str:
        """A path is relative to the app's URL (its mount point included)."""
        if url.startswith("/"):
            return self.app_url + url
        return url

    def request(self, method: str, url: str, *, data: Any = None, headers: dict[str, str] | None = None,
                send_cookies: bool = True) -> requests.Response:
        url = self.absolute(url)
        sent = dict(headers or {})
        if send_cookies and self._is_app(url) and self.cookies:
            sent["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in self.cookies.values())
        self.http.cookies.clear()  # the jar above is the only one
        resp = self.http.request(method, url, data=data, headers=sent, allow_redirects=False, timeout=self.timeout)
        self.hops.append(resp)
        if self._is_app(url):
            for header in resp.raw.headers.getlist("Set-Cookie"):
                cookie = parse_set_cookie(header)
                if _expired(cookie):
                    self.cookies.pop(cookie.name, None)
                else:
                    self.cookies[cookie.name] = cookie
        return resp

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, data: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, data=data, **kwargs)

    def follow(self, resp: requests.Response, *, stop_at_authority: bool = True) -> requests.Response:
        """Follow redirects by hand; stops at the authority's pages unless asked not to."""
        for _ in range(MAX_HOPS):
            if resp.status_code not in (301, 302, 303, 307, 308):
                return resp
            target = urljoin(resp.url, resp.headers["Location"])
            if stop_at_authority and not self._is_app(target):
                return resp
            if resp.status_code in (307, 308):
                resp = self.request(resp.request.method or "GET", target, data=resp.request.body)
            else:
                resp = self.get(target)
        raise AssertionError("too many redirects")

    def cookie(self, suffix: str) -> Cookie | None:
        """The cookie whose name ends with ``suffix`` (``aadweb_session``, ``aadweb_browser``)."""
        for cookie in self.cookies.values():
            if cookie.name.endswith(suffix):
                return cookie
        return None

    # --- the sign-in, step by step ----------------------------------------------------------

    def start(self, path: str = "/login") -> str:
        """``GET path`` (following app-local redirects); the authorize URL the app sends us to."""
        resp = self.follow(self.get(path))
        assert resp.status_code == 302, (resp.status_code, resp.text[:300])
        location = resp.headers["Location"]
        assert not self._is_app(location), location
        return location

    def authenticate(self, authorize_url: str, *, user: str = USER, cancel: bool = False) -> Callback:
        """The person picks an account (or cancels) on the authority's sign-in page; the authority
        may also answer at once (an error, or prompt=none) without showing the page."""
        page = self.get(authorize_url)
        answered = self._callback(page)
        if answered is not None:
            return answered
        assert page.status_code == 200 and 'name="user"' in page.text, page.text[:300]
        parts = urlsplit(authorize_url)
        form = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        form.update({"cancel": "1"} if cancel else {"user": user})
        resp = self.post(f"{parts.scheme}://{parts.netloc}{parts.path}", data=form)
        answered = self._callback(resp)
        assert answered is not None, resp.text[:300]
        return answered

    @staticmethod
    def _callback(resp: requests.Response) -> Callback | None:
        if resp.status_code == 302:
            location = resp.headers["Location"]
            query = {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()}
            return Callback(mode="query", url=location, fields=query)
        if resp.status_code == 200 and "document.forms[0].submit()" in resp.text:
            action, fields = parse_form_post(resp.text)
            return Callback(mode="form_post", url=action, fields=fields)
        return None

    def deliver(self, callback: Callback) -> requests.Response:
        """The authority's answer reaches the app: the cross-site POST goes WITHOUT cookies
        (SameSite=Lax); a top-level GET navigation carries them. Returns the app's first answer."""
        if callback.mode == "form_post":
            return self.post(callback.url, data=callback.fields, send_cookies=False)
        return self.get(callback.url)

    def sign_in(self, path: str = "/login", *, user: str = USER) -> requests.Response:
        """The whole sign-in; returns the app's page at the end of it."""
        callback = self.authenticate(self.start(path), user=user)
        return self.follow(self.deliver(callback))
