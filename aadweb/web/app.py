"""The WSGI app: aadweb's own routes, and the gate in front of a protected app.

DESIGN.md, "Protecting an app". aadweb's own routes (``/login``, ``/logout``, ``/signed-out``,
``/me``, ``/verify``, ``/healthz``, the stylesheet, the transcript page) live under
``AADWEB_ROUTE_PREFIX`` (``/.auth``) in front of an app, at the root for the seed's sample
(:mod:`aadweb.web.sample`); the callback is the path of ``AADWEB_REDIRECT_URI``. Every other
request goes through the gate (:mod:`aadweb.web.gate`): a signed-in, authorised user reaches
the app with ``REMOTE_USER``, ``aadweb.user`` and ``aadweb.access_token``; a browser that is
not signed in is sent to sign in and back; an API call gets a 401 JSON answer.

Werkzeug's tutorial shape, with thin handlers around :class:`~aadweb.signin.SignIn`.

A :class:`~werkzeug.routing.Map` of :class:`~werkzeug.routing.Rule` s; ``dispatch_request``
calls ``on_<endpoint>``; ``__call__`` delegates to ``wsgi_app`` so middleware can wrap it
(``ProxyFix`` does, when ``AADWEB_TRUSTED_PROXY_HOPS`` > 0). Handlers read the request, call
``SignIn``, and render; the protocol lives in ``aadweb.signin`` and below.

URLs the app makes are built from the route map (``MapAdapter.build``) under its mount point
(``SCRIPT_NAME``), never from the ``Host`` header: the redirect URI and the post-logout URI come
from the settings. The callback route is the path of ``AADWEB_REDIRECT_URI`` under the mount
point (``/auth/getAToken`` served under ``/auth`` is the route ``/getAToken``; at the root, the
whole path).
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.resources
import json
import logging
import traceback
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, unquote, urlsplit

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, MapAdapter, RequestRedirect, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Response

from aadweb._version import __version__
from aadweb.errors import (
    AadWebError,
    ClientRefused,
    ConfigurationError,
    ConsentRequired,
    ReauthenticationRequired,
    SessionStoreError,
)
from aadweb.gate_settings import is_public
from aadweb.sessions import SessionRecord, SessionStore
from aadweb.settings import Settings
from aadweb.signin import SignIn
from aadweb.transcript.reader import tail_flow
from aadweb.transcript.writer import Transcript
from aadweb.user import User
from aadweb.web import pages, wireview
from aadweb.web.cookies import new_id, session_cookies
from aadweb.web.gate import (
    AccessTokens,
    TokenFailure,
    forward_auth_headers,
    is_browser_navigation,
    json_response,
    missing_access,
    strip_cookies,
    strip_identity,
)
from aadweb.web.headers import SecurityHeaders
from aadweb.web.limits import (
    LimitedRequest,
    check_mount_point,
    check_request_line,
    read_form,
    safe_return_path,
    sign_in_hints,
    well_mounted,
)
from aadweb.web.refusals import describe, http_problem, unexpected_problem
from aadweb.web.sample import SampleApp, current_session
from aadweb.web.wiretap import WireTap

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["AadWebApp", "AppRequest", "callback_problems", "callback_route"]

log = logging.getLogger("aadweb.web")

_CACHEABLE: Final = frozenset({"stylesheet"})


class AppRequest(LimitedRequest):
    """A request with aadweb's limits; ``endpoint`` is set once the URL matched."""

    endpoint: str | None = None
    #: The route map bound to this request's mount point: ``urls.build(endpoint)`` is a URL.
    urls: MapAdapter | None = None


def _load_stylesheet() -> bytes:
    return importlib.resources.files("aadweb.web").joinpath("static", "aadweb.css").read_bytes()


#: GET endpoints with side effects (start a sign-in, finish one): never on HEAD.
_SIDE_EFFECTS = frozenset({"login", "callback"})
#: RFC 3986 pchar: what a path keeps unencoded when it becomes a return path.
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~"
#: Route maps kept per mount point; one app is normally mounted at one.
_MAX_MOUNTS: Final = 8
_HOST: Final = "aadweb.invalid"  # URLs are built without a host; matching never reads one


def callback_route(redirect_path: str, mount: str) -> str | None:
    """Where the authority's answer arrives, as a route under the mount point ``mount``.

    ``redirect_path`` is the (decoded) path of ``AADWEB_REDIRECT_URI``, ``mount`` the decoded
    ``SCRIPT_NAME`` ("" at the root). ``None`` when the redirect URI is not under this mount:
    then the answer never comes here, and the app has no callback route.
    """
    mount = mount.rstrip("/")
    if not mount:
        return redirect_path or "/"
    if redirect_path.startswith(mount + "/"):
        return redirect_path[len(mount):]
    return None


def route_prefix(settings: Settings, *, sample: bool) -> str:
    """Where aadweb's own routes are: at the root for the seed's sample, else ``AADWEB_ROUTE_PREFIX``."""
    return "" if sample else settings.route_prefix


def callback_problems(redirect_uri: str, *, prefix: str = "") -> list[str]:
    """What is wrong with ``redirect_uri`` as the app's callback (empty: nothing).

    At the root its path is the callback route, so it must not be one of aadweb's own routes
    (nor, for the sample, one of its pages).
    """
    path = callback_route(unquote(urlsplit(redirect_uri).path), "")
    taken = {rule.rule for rule in _rules(None, wire_view=True, prefix=prefix)}
    if not prefix:
        taken |= set(SampleApp.ENDPOINTS)
    if path in taken:
        return [f"AADWEB_REDIRECT_URI's path {path!r} is one of the app's own routes: the authority's answer "
                "must arrive at a path of its own, e.g. /getAToken."]
    return []


def _rules(callback: str | None, *, wire_view: bool, prefix: str) -> list[Rule]:
    p = prefix
    return [
        Rule(f"{p}/login", endpoint="login", methods=["GET"]),
        *([Rule(callback, endpoint="form_post", methods=["POST"]),
           Rule(callback, endpoint="callback", methods=["GET"])] if callback is not None else []),
        Rule(f"{p}/logout", endpoint="logout_confirm", methods=["GET"]),
        Rule(f"{p}/logout", endpoint="logout", methods=["POST"]),
        Rule(f"{p}/signed-out", endpoint="signed_out", methods=["GET"]),
        Rule(f"{p}/healthz", endpoint="healthz", methods=["GET"]),
        Rule(f"{p}/me", endpoint="me", methods=["GET"]),
        Rule(f"{p}/verify", endpoint="verify", methods=["GET"]),
        Rule(f"{p}{pages.STYLESHEET_PATH}", endpoint="stylesheet", methods=["GET"]),
        *([Rule(f"{p}{wireview.WIRE_PATH}", endpoint="wireview", methods=["GET"])] if wire_view else []),
    ]


class AadWebApp:
    """The aadweb WSGI application: the gate in front of ``app`` (``None``: the seed's sample).
    Build it with :func:`aadweb.web.create_app` or :func:`aadweb.web.protect`."""

    def __init__(self, settings: Settings, signin: SignIn, *, close: Iterable[Callable[[], None]] = (),
                 transcript: Transcript | None = None, app: WSGIApplication | None = None) -> None:
        if settings.secret_key is None:
            raise ValueError("AadWebApp needs settings.secret_key")  # create_app checks first
        self.settings = settings
        self.signin = signin
        self.store: SessionStore = signin.store
        redirect_uri = urlsplit(settings.redirect_uri)
        https = redirect_uri.scheme == "https"
        #: scheme://host[:port] of the app, from the configured redirect URI (never from Host).
        self.origin = f"{redirect_uri.scheme}://{redirect_uri.netloc}"
        self.session_cookie, self.browser_cookie = session_cookies(settings.secret_key, secure=https)
        self.security = SecurityHeaders(authority_origin=settings.authority_host, https=https)
        self.stylesheet = _load_stylesheet()
        self.css_version = hashlib.sha256(self.stylesheet).hexdigest()[:12]
        self._closers = tuple(close)
        self.wire_view = settings.wire_view and settings.wire_log is not None
        #: The protected app, or the seed's sample pages (then aadweb's routes are at the root).
        self.app = app
        self.sample = SampleApp(signin, page=self._page, wire_view=self.wire_view) if app is None else None
        self.prefix = route_prefix(settings, sample=app is None)
        problems = callback_problems(settings.redirect_uri, prefix=self.prefix)
        if problems:
            raise ConfigurationError(problems)
        #: The decoded path of the redirect URI: the callback, wherever the app is mounted.
        self.redirect_path = unquote(redirect_uri.path)
        self._maps: dict[str, Map] = {}
        #: Records the sign-in legs when AADWEB_WIRE_LOG is set (create_app checks the settings);
        #: it observes ``signin``, which tells it each request's flow, verdicts and refusal.
        self.wiretap = None if transcript is None else WireTap(transcript, origin=self.origin)
        if self.wiretap is not None:
            signin.observe(self.wiretap)
        #: A key for the consent links handed to API callers (``/login?resource=...``).
        self._link_key = hmac.new(settings.secret_key.reveal().encode(), b"aadweb consent link v1",
                                  hashlib.sha256).digest()

    # --- WSGI ---------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.wsgi_app(environ, start_response)

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # Before anything reads the request: a client never poses as a user (DESIGN.md).
        removed = strip_identity(environ)
        if removed:
            log.info("removed identity the client sent: %s", ", ".join(sorted(removed))[:300])
        request = AppRequest(environ)
        tap = self.wiretap
        answer = self._respond(request) if tap is None else tap.around(request, self._respond)
        return answer(environ, start_response)

    def _respond(self, request: AppRequest) -> Response | WSGIApplication:
        answer = self.dispatch_request(request)
        if isinstance(answer, Response):
            self.security.apply(answer, cacheable=request.endpoint in _CACHEABLE and answer.status_code == 200)
        return answer

    def url_map(self, mount: str) -> Map:
        """The routes under the mount point ``mount`` (decoded ``SCRIPT_NAME``, "" at the root)."""
        found = self._maps.get(mount)
        if found is None:
            found = Map(
                _rules(callback_route(self.redirect_path, mount), wire_view=self.wire_view, prefix=self.prefix),
                strict_slashes=True,
                merge_slashes=False,  # no Werkzeug-made redirects: they would be built from Host
            )
            if len(self._maps) < _MAX_MOUNTS:
                self._maps[mount] = found
        return found

    def _surely_the_apps(self, request: AppRequest) -> bool:
        """A path outside ``AADWEB_ROUTE_PREFIX`` that is not the callback: the protected app's."""
        if self.app is None:
            return False
        path = request.path
        if path == self.prefix or path.startswith(self.prefix + "/"):
            return False
        return path != callback_route(self.redirect_path, request.script_root)

    def dispatch_request(self, request: AppRequest) -> Response | WSGIApplication:
        try:
            check_mount_point(request)  # before any URL is built from it
            check_request_line(request)
            adapter = self.url_map(request.script_root).bind(_HOST, script_name=self.root(request) or "/",
                                                             path_info=request.path)
            request.urls = adapter
            if self._surely_the_apps(request):
                return self._gate(request)  # the common case in front of an app: no route matching
            try:
                endpoint, values = adapter.match(method=request.method)
            except NotFound:
                return self._gate(request)  # not one of aadweb's routes: the app's, behind the gate
            if request.method == "HEAD" and endpoint in _SIDE_EFFECTS:
                # Werkzeug answers HEAD wherever GET is allowed; these GETs change state.
                raise MethodNotAllowed(valid_methods=["GET"])
            request.endpoint = endpoint
            handler: Callable[..., Response] = getattr(self, f"on_{endpoint}")
            return handler(request, **values)
        except RequestRedirect:
            return self._http_refusal(request, 404)
        except MethodNotAllowed as exc:
            response = self._http_refusal(request, 405)
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods or ()))
            return response
        except HTTPException as exc:
            return self._http_refusal(request, exc.code or 400)
        except AadWebError as exc:
            return self._refusal(request, exc)
        except Exception as exc:
            # An unexpected bug: log where it happened, never what it says. Its message, or that
            # of an exception it was raised from (a requests error names a URL with its query),
            # could hold a value; the stack frames (file, line, source) cannot.
            log.error("unexpected %s while answering %s; stack (messages withheld):\n%s", type(exc).__name__,
                      request.endpoint or "-", "".join(traceback.format_tb(exc.__traceback__)).rstrip())
            return self._problem(request, unexpected_problem())

    # --- rendering ----------------------------------------------------------------------

    @staticmethod
    def root(request: AppRequest) -> str:
        """The mount point for URLs: "" at the root, "/auth" under ``SCRIPT_NAME=/auth``.

        A malformed one (``//evil.example``) is refused by :func:`check_mount_point`; the refusal
        page's own links then start at the site root, never at another host.
        """
        script_root = request.script_root.rstrip("/")
        return quote(script_root, safe="/") if well_mounted(script_root) else ""

    def auth_root(self, request: AppRequest) -> str:
        """Where aadweb's own routes are for URLs: the mount point and the route prefix."""
        return self.root(request) + self.prefix

    def _page(self, request: AppRequest, render: Callable[..., str], status: int = 200, **values: object) -> Response:
        html = render(root=self.root(request), auth=self.auth_root(request), css_version=self.css_version, **values)
        return pages.html_response(html, status)

    def _problem(self, request: AppRequest, problem: pages.Problem) -> Response:
        response = self._page(request, pages.problem_page, problem.status, problem=problem)
        if problem.retry_after is not None:
            response.headers["Retry-After"] = str(problem.retry_after)
        return response

    def _refusal(self, request: AppRequest, exc: AadWebError) -> Response:
        # str(exc) is safe by construction (aadweb.errors); never the query, form or cookies.
        # The authority refusing the app itself: nobody can sign in until the operator acts.
        level = logging.ERROR if isinstance(exc, ClientRefused) else logging.WARNING
        log.log(level, "refused %s: %s: %s", request.endpoint or "-", type(exc).__name__, exc)
        return self._problem(request, describe(exc))

    def _http_refusal(self, request: AppRequest, status: int) -> Response:
        if status != 404:
            log.info("refused %s with HTTP %d", request.endpoint or "-", status)
        return self._problem(request, http_problem(status))

    def _to(self, request: AppRequest, path: str, code: int = 302) -> Response:
        """A redirect to ``path`` under the mount point (a return path the browser asked for)."""
        return redirect(self.root(request) + path, code)

    def _to_endpoint(self, request: AppRequest, endpoint: str, code: int = 302, *, method: str = "GET",
                     **values: str) -> Response:
        """A redirect to one of the app's routes, its URL built from the route map."""
        assert request.urls is not None  # bound by dispatch_request before any handler runs
        return redirect(request.urls.build(endpoint, values, method=method), code)

    def _login_then(self, request: AppRequest, endpoint: str) -> Response:
        """Sign in first, then come back to ``endpoint`` (``next`` is a path under the mount point)."""
        back = self.url_map(request.script_root).bind(_HOST, script_name="/").build(endpoint, method="GET")
        return self._to_endpoint(request, "login", next=back)

    @staticmethod
    def _here(request: AppRequest) -> str:
        """This request's path and query under the mount point: where to come back after signing in."""
        query = request.environ.get("QUERY_STRING", "")
        return quote(request.path, safe=_PATH_SAFE) + (f"?{query}" if query else "")

    def _login_url(self, request: AppRequest, back: str, **extra: str) -> str:
        assert request.urls is not None
        values = {"next": back, **extra} if back != "/" or extra else {}
        return request.urls.build("login", values, method="GET")

    def _consent_mac(self, resource: str, back: str, session_id: str, expires: str) -> str:
        """A consent link's MAC: the resource, the return path, the session it was made for and
        when it expires (:data:`CONSENT_LINK_TTL`); nothing else in the link counts."""
        message = "\x00".join((resource, back, session_id, expires)).encode()
        return hmac.new(self._link_key, message, hashlib.sha256).hexdigest()[:32]

    def _session(self, request: AppRequest) -> SessionRecord | None:
        session_id = self.session_cookie.read(request)
        return self.signin.session(session_id) if session_id else None

    def signed_out_url(self, request: AppRequest) -> str:
        """The absolute URL of the signed-out page (the post-logout redirect). Not the home page:
        for a signed-out browser that starts a new sign-in at once (DESIGN.md)."""
        assert request.urls is not None
        return self.origin + request.urls.build("signed_out", method="GET")

    # --- handlers -----------------------------------------------------------------------

    # --- the gate -----------------------------------------------------------------------

    def _gate(self, request: AppRequest) -> Response | WSGIApplication:
        """A request for the app: through only for a signed-in user who has what it requires."""
        environ = request.environ
        cookie_names = (self.session_cookie.name, self.browser_cookie.name)
        if self.sample is not None and self.sample.endpoint(request) is None:
            # The sample's pages are known: anything else is not here, signed in or not.
            if request.path not in SampleApp.ENDPOINTS:
                return self._http_refusal(request, 404)
            refused = self._http_refusal(request, 405)
            refused.headers["Allow"] = "GET, HEAD" if request.path == "/" else "GET"
            return refused
        if is_public(request.path, self.settings.public_paths):
            strip_cookies(environ, cookie_names)
            return self._app_or_missing(request)
        session = self._session(request)
        if session is None:
            return self._sign_in_first(request)
        user = User.from_claims(session.claims)
        missing = missing_access(user, session, roles=self.settings.require_roles,
                                 groups=self.settings.require_groups)
        if missing is not None:
            log.info("refused a signed-in user the app: missing %s", missing[:200])
            if not is_browser_navigation(environ):
                return json_response({"error": "forbidden", "missing": missing}, 403)
            return self._page(request, pages.forbidden_page, 403, who=user.remote_user, missing=missing)
        failure = TokenFailure()
        environ["REMOTE_USER"] = user.remote_user
        environ["aadweb.user"] = user
        environ["aadweb.access_token"] = AccessTokens(self.signin, session, failure)
        strip_cookies(environ, cookie_names)
        if self.sample is not None:
            return self._sample_page(request, session)
        return self._call_app(request, failure, session.session_id)

    def _app_or_missing(self, request: AppRequest) -> Response | WSGIApplication:
        if self.app is not None:
            return self.app
        return self._http_refusal(request, 404)  # the sample has no public pages

    def _sample_page(self, request: AppRequest, session: SessionRecord) -> Response:
        assert self.sample is not None
        endpoint = self.sample.endpoint(request)
        assert endpoint is not None  # _gate refused the others first
        request.endpoint = endpoint
        token = current_session.set(session)
        try:
            return self.sample.respond(request, endpoint)
        except ReauthenticationRequired as exc:  # SignIn has ended the session
            response = self._refusal(request, exc)
            self.session_cookie.expire(response)
            return response
        finally:
            current_session.reset(token)

    def _sign_in_first(self, request: AppRequest) -> Response:
        """Not signed in: a browser goes to sign in and comes back here; anything else gets a 401
        JSON answer naming the login URL, never a redirect (DESIGN.md)."""
        login = self._login_url(request, self._here(request))
        if is_browser_navigation(request.environ):
            return Response(status=302, headers={"Location": login})  # no body echoing the URL
        response = json_response({"error": "unauthenticated", "message": "Sign in first.", "login_url": login}, 401)
        response.headers["WWW-Authenticate"] = 'Cookie realm="aadweb", form-action="' + login.replace('"', "%22") + '"'
        return response

    def _call_app(self, request: AppRequest, failure: TokenFailure, session_id: str) -> WSGIApplication:
        """The protected app, answering. An aadweb error from ``access_token()`` that the app did
        not handle (it let it escape, or answered 5xx after it) becomes the gate's own answer:
        the app's ``start_response`` is held until its first chunk, so the gate can still answer
        instead (once the app's headers are out, its answer stands)."""
        app = self.app
        assert app is not None

        def run(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            held = _HeldStart(start_response)
            try:
                body = app(environ, held.start)
            except AadWebError as exc:
                failure.error = failure.error or exc
                return self._app_failure(request, failure.error, session_id)(environ, start_response)

            def instead() -> Iterable[bytes]:
                assert failure.error is not None
                return self._app_failure(request, failure.error, session_id)(environ, start_response)

            return _answer(body, held, failure, instead)

        return run

    def _app_failure(self, request: AppRequest, error: AadWebError, session_id: str) -> Response:
        """The gate's answer for what ``access_token()`` raised and the app did not handle: the
        consent round trip, sign in again, or the page DESIGN.md's table gives the error."""
        if isinstance(error, ConsentRequired | ReauthenticationRequired):
            response = self._token_failure(request, error, session_id)
        else:
            response = self._refusal(request, error)
        self.security.apply(response, cacheable=False)
        return response

    def _token_failure(self, request: AppRequest, error: AadWebError, session_id: str) -> Response:
        """``session_id``: the session the gate resumed (its cookie is no longer in the environ)."""
        back = safe_return_path(self._here(request))
        browser = is_browser_navigation(request.environ)
        if isinstance(error, ConsentRequired) and error.resource:
            if browser:  # a round trip to the authority for that resource, back to the same URL
                return self._start_sign_in(request, return_path=back, resource=error.resource, prompt="consent")
            expires = str(int(self.signin.clock() + CONSENT_LINK_TTL))
            link = self._login_url(request, back, resource=error.resource, exp=expires,
                                   link=self._consent_mac(error.resource, back, session_id, expires))
            asked: dict[str, Any] = {"scopes": list(error.scopes)} if error.scopes else {"resource": error.resource}
            return json_response({"error": "consent_required", **asked, "consent_url": link}, 401)
        # The session is over (SignIn ended it): sign in again.
        if browser:
            response: Response = redirect(self._login_url(request, back), 302)
        else:
            response = json_response({"error": "unauthenticated", "message": "Sign in again.",
                                      "login_url": self._login_url(request, back)}, 401)
        self.session_cookie.expire(response)
        return response

    # --- aadweb's own routes ------------------------------------------------------------

    def on_login(self, request: AppRequest) -> Response:
        args = request.args
        # nginx's error_page sends the original request here: X-Original-URI says where it was.
        wanted = args.get("next") if "next" in args else request.headers.get("X-Original-URI")
        back = safe_return_path(wanted)
        resource = args.get("resource")
        if resource is None:
            return self._start_sign_in(request, return_path=back, **sign_in_hints(args))
        # Only a consent link the gate made names another resource: for this signed-in session,
        # not expired, and always with prompt=consent (the link's other parameters do not count).
        session_id = self.session_cookie.read(request) or ""
        expires = args.get("exp", "")
        sent = args.get("link", "")
        valid = hmac.compare_digest(sent.encode(), self._consent_mac(resource, back, session_id, expires).encode())
        if not valid or not session_id or not expires.isdigit() or int(expires) < self.signin.clock():
            log.warning("refused a sign-in for another resource without a valid consent link")
            raise NotFound()
        return self._start_sign_in(request, return_path=back, resource=resource, prompt="consent")

    def _start_sign_in(self, request: AppRequest, *, return_path: str, resource: str | None = None,
                       **hints: str) -> Response:
        browser_id = self.browser_cookie.read(request)
        minted = browser_id is None
        if browser_id is None:
            browser_id = new_id()
        url = self.signin.begin(browser_id=browser_id, return_path=return_path, resource=resource, **hints)
        response = redirect(url, 302)  # a GET answered with a GET: 302 (the original sample sent 307)
        if minted:
            self.browser_cookie.set(response, browser_id)
        return response

    def on_me(self, request: AppRequest) -> Response:
        """The signed-in user as JSON (DESIGN.md: ``/.auth/me``); 401 when signed out."""
        session = self._session(request)
        if session is None:
            return json_response({"error": "unauthenticated", "login_url": self._login_url(request, "/")}, 401)
        user = User.from_claims(session.claims)
        return json_response({
            "tid": user.tid, "oid": user.oid, "sub": user.sub, "name": user.name, "username": user.username,
            "email": user.email, "roles": list(user.roles), "groups": list(user.groups),
        }, 200)

    def on_verify(self, request: AppRequest) -> Response:
        """Forward auth (nginx ``auth_request``): 202 with ``X-Auth-Request-*`` for a signed-in,
        authorised session; 401 signed out; 403 when a required role or group is missing."""
        session = self._session(request)
        if session is None:
            return json_response({"error": "unauthenticated"}, 401)
        user = User.from_claims(session.claims)
        missing = missing_access(user, session, roles=self.settings.require_roles,
                                 groups=self.settings.require_groups)
        if missing is not None:
            return json_response({"error": "forbidden", "missing": missing}, 403)
        response = Response(status=202)
        for name, value in forward_auth_headers(user):
            response.headers[name] = value
        # The request's cookies without aadweb's (every copy), for nginx to send the app.
        cookies = {"HTTP_COOKIE": request.environ.get("HTTP_COOKIE", "")}
        strip_cookies(cookies, (self.session_cookie.name, self.browser_cookie.name))
        if cookies.get("HTTP_COOKIE"):
            response.headers["X-Aadweb-App-Cookie"] = cookies["HTTP_COOKIE"]
        return response

    def on_form_post(self, request: AppRequest) -> Response:
        """The authority's cross-site ``form_post``: no cookie arrives (SameSite=Lax), so only
        stash the fields under their state and come back same-site, where the cookie is sent."""
        state = self.signin.stash_form_post(read_form(request))
        return self._to_endpoint(request, "callback", 303, state=state)

    def on_callback(self, request: AppRequest) -> Response:
        """Finish the sign-in this browser started (hybrid: after the 303; code flow: directly)."""
        done = self.signin.complete(
            browser_id=self.browser_cookie.read(request) or "", params=request.args.to_dict(flat=False)
        )
        previous = self.session_cookie.read(request)
        if previous and previous != done.session.session_id:
            self.signin.end_session(previous, reason="replaced")  # one session per browser
        response = self._to(request, done.return_path, 303)
        self.session_cookie.set(response, done.session.session_id)  # a NEW id: no fixation
        return response

    def on_logout_confirm(self, request: AppRequest) -> Response:
        session = self._session(request)
        if session is None:
            return self._to_endpoint(request, "signed_out")
        return self._page(request, pages.logout_page, csrf_token=session.csrf_token)

    def on_logout(self, request: AppRequest) -> Response:
        session = self._session(request)
        if session is None:
            return self._to_endpoint(request, "signed_out")
        sent = read_form(request).get("csrf_token", [])
        if len(sent) != 1 or not hmac.compare_digest(sent[0].encode(), session.csrf_token.encode()):
            log.warning("refused logout: missing or wrong CSRF token")
            return self._problem(request, pages.Problem(
                status=400, title="This sign-out form is not valid any more",
                message="The sign-out request did not come from this site's own sign-out page, so you are "
                        "still signed in.",
                what_to_do="Open the sign-out page again and press Sign out.",
            ))
        url = self.signin.sign_out(session, post_logout_redirect_uri=self.signed_out_url(request))
        response = redirect(url, 302)
        self.session_cookie.expire(response)
        self.browser_cookie.expire(response)
        return response

    def on_signed_out(self, request: AppRequest) -> Response:
        """Where the authority sends the browser after sign-out: a page, never a redirect into a
        new sign-in. A browser that is (again) signed in goes home instead."""
        if self._session(request) is not None:
            return self._to(request, "/")  # the app's home
        return self._page(request, pages.signed_out_page)

    def on_healthz(self, request: AppRequest) -> Response:
        """Store and authority reachability, no secrets, no network call (DESIGN.md): the store's
        ping (the store's own short timeouts), and how the process's last call to the authority
        went (``unknown`` before the first). 503 only when the store is down: that host cannot
        serve; an authority outage is every host's, so it must not take this one out."""
        try:
            self.store.ping()
            store_up = True
        except SessionStoreError as exc:
            log.warning("health check: session store unreachable: %s", exc)
            store_up = False
        authority = self.signin.authority.reachability
        body = {
            "status": "ok" if store_up and authority != "unreachable" else "degraded",
            "store": "ok" if store_up else "unreachable",
            "authority": authority,
            "version": __version__,
        }
        return Response(json.dumps(body), status=200 if store_up else 503, mimetype="application/json")

    def on_stylesheet(self, request: AppRequest) -> Response:
        return Response(self.stylesheet, mimetype="text/css")

    def on_wireview(self, request: AppRequest) -> Response:
        """The signed-in browser's last sign-in as a sequence diagram (AADWEB_WIRE_VIEW=1 only)."""
        session = self._session(request)
        if session is None or self.settings.wire_log is None:
            return self._login_then(request, "wireview")
        records = tail_flow(self.settings.wire_log, session.flow_id)
        return self._page(request, wireview.wire_page, flow=session.flow_id, records=records)

    # --- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Close what :func:`create_app` opened (through ``build_signin``: the store, transport and
        transcript it built itself)."""
        for close in self._closers:
            close()


#: How long a consent link handed to an API caller works (seconds).
CONSENT_LINK_TTL: Final = 600


class _HeldStart:
    """A ``start_response`` for the protected app that holds the status and headers until the
    first chunk of the body (or the end of an empty one) and then sends them, with ``Vary:
    Cookie`` (the answer is this user's) and ``Cache-Control: private`` when the app set none."""

    __slots__ = ("headers", "real", "sent", "status", "writer")

    def __init__(self, real: StartResponse) -> None:
        self.real = real
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.sent = False
        self.writer: Callable[[bytes], object] | None = None

    def start(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], object]:
        if exc_info is not None and self.sent:
            raise exc_info[1].with_traceback(exc_info[2])  # PEP 3333: too late to change the answer
        names = {name.lower() for name, _ in headers}
        if not any(name.lower() == "vary" and "cookie" in value.lower() for name, value in headers):
            headers = [*headers, ("Vary", "Cookie")]
        if "cache-control" not in names:
            headers = [*headers, ("Cache-Control", "private")]
        self.status, self.headers = status, headers
        return self.write

    def send(self) -> None:
        if self.status is None:
            raise RuntimeError("the protected app answered without calling start_response")
        self.sent = True
        self.writer = self.real(self.status, self.headers)

    def write(self, data: bytes) -> None:  # PEP 3333's legacy write(): sends the headers first
        if not self.sent:
            self.send()
        assert self.writer is not None
        self.writer(data)

    @property
    def failed(self) -> bool:
        return self.status is not None and self.status[:1] == "5"


def _answer(body: Iterable[bytes], held: _HeldStart, failure: TokenFailure,
            instead: Callable[[], Iterable[bytes]]) -> Iterable[bytes]:
    """The app's body, or the gate's answer when the app failed on an aadweb error before
    sending anything (see :meth:`AadWebApp._call_app`)."""
    iterator = iter(body)
    try:
        try:
            first: bytes | None = next(iterator)
        except StopIteration:
            first = None
        except AadWebError as exc:
            failure.error = failure.error or exc
            first = None
            held.status = "500 Internal Server Error"
        if not held.sent and failure.error is not None and held.failed:
            yield from instead()
            return
        if not held.sent:
            held.send()
        if first is not None:
            yield first
        yield from iterator
    finally:
        close = getattr(body, "close", None)
        if callable(close):
            close()
