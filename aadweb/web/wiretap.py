"""The web side of the wire transcript: the legs that reach the app, and their answers.

:class:`WireTap` wraps the app's request handling (``AadWebApp.wsgi_app``) when
``AADWEB_WIRE_LOG`` is set. For the sign-in endpoints it writes the request as it arrived and
the answer as it left (Set-Cookie and security headers included), paired by an exchange id,
and for the callback the id_token verdicts in between. It also puts the request's flow in
:data:`~aadweb.transcript.writer.current_flow` so the outbound legs made while answering
(metadata, JWKS, token, refresh, Graph) carry the same flow id:

* ``GET /getAToken?state=...``: the flow of that state, before the handler runs;
* requests with a session: the session's flow (``AadWebApp._session`` sets it);
* ``/login`` and the form_post: the state in the answer's ``Location``, after the handler.

Nothing here changes a response or raises into the request; the transcript counts and logs
its own failures.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote_plus, urlsplit

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from aadweb.errors import ConfigurationError
from aadweb.flow import current_flow, flow_id_for
from aadweb.settings import Settings, is_loopback_host
from aadweb.transcript.writer import Transcript
from aadweb.web.limits import check_request_line

if TYPE_CHECKING:
    from aadweb.web.app import AppRequest

__all__ = ["RECORDED", "WireTap", "wire_transcript"]

#: Endpoint -> (leg of the request, leg of a successful answer). A 4xx/5xx answer is "refused".
RECORDED: Final = {
    "login": ("login", "authorize_redirect"),
    "form_post": ("form_post", "form_post_redirect"),
    "callback": ("callback", "signed_in"),
    "graphcall": ("graphcall", "graphcall_page"),
    "logout": ("logout", "logout_redirect"),
}
_CALLBACK_PATH: Final = "/getAToken"
_MAX_STATE: Final = 512
#: The state parameter in a query string or a form body (the first one; no fragment).
_STATE: Final = re.compile(r"(?:^|[?&])state=([^&#]*)")


def wire_transcript(settings: Settings) -> Transcript | None:
    """The transcript ``settings`` ask for (None: ``AADWEB_WIRE_LOG`` unset), opened once now so
    a path that cannot be written is a start-up error, not a silent gap.

    ``AADWEB_WIRE_VIEW=1`` shows the transcript to whoever is signed in to the app; it is refused
    unless the app runs on loopback (its redirect URI's host), as the demo does.
    """
    problems: list[str] = []
    if settings.wire_view:
        host = urlsplit(settings.redirect_uri).hostname or ""
        if not is_loopback_host(host):
            problems.append(
                f"AADWEB_WIRE_VIEW=1 is allowed only for the demo or an app on loopback, not for {host!r} "
                "(the host of AADWEB_REDIRECT_URI): the page shows what went over the wire."
            )
        if not settings.wire_log:
            problems.append("AADWEB_WIRE_VIEW=1 needs AADWEB_WIRE_LOG: the page shows that file.")
    if problems:
        raise ConfigurationError(problems)
    if not settings.wire_log:
        return None
    transcript = Transcript(settings.wire_log, personal=settings.wire_personal)
    try:
        transcript.check_writable()
    except OSError as exc:
        raise ConfigurationError(
            [f"AADWEB_WIRE_LOG {settings.wire_log} cannot be opened for appending ({exc.strerror or exc})."]
        ) from None
    return transcript


def _state_flow(state: str | None) -> str | None:
    if not state or len(state) > _MAX_STATE:
        return None
    return flow_id_for(state)


class WireTap:
    """Records the inbound legs of one app into ``transcript``; ``origin`` is the app's own
    ``scheme://host[:port]`` (from the redirect URI: recorded URLs never come from ``Host``)."""

    def __init__(self, transcript: Transcript, *, origin: str,
                 clock: Callable[[], float] = time.time, timer: Callable[[], float] = time.perf_counter) -> None:
        self.transcript = transcript
        self.origin = origin
        self.clock = clock
        self.timer = timer

    def around(self, request: AppRequest, respond: Callable[[AppRequest], Response]) -> Response:
        """``respond(request)``, recorded when its endpoint is one of :data:`RECORDED`."""
        started, t0 = self.clock(), self.timer()
        token = current_flow.set(self._callback_flow(request))
        try:
            response = respond(request)
            try:
                self._record(request, response, started, self.timer() - t0)
            except Exception as exc:  # the transcript never breaks an answer
                self.transcript.failed(exc)
            return response
        finally:
            current_flow.reset(token)

    @staticmethod
    def _callback_flow(request: AppRequest) -> str | None:
        if request.method != "GET" or request.path != _CALLBACK_PATH:
            return None
        try:
            # Before dispatch: a query the app will refuse (too long, not UTF-8: request.args
            # would raise) has no flow, and the refusal stays the app's to answer.
            check_request_line(request)
        except HTTPException:
            return None
        return _state_flow(request.args.get("state"))

    def _record(self, request: AppRequest, response: Response, started: float, elapsed: float) -> None:
        legs = RECORDED.get(request.endpoint or "")
        if legs is None:
            return
        body = self._request_body(request)
        flow = current_flow.get() or self._location_flow(response) or self._form_flow(body)
        query = request.environ.get("QUERY_STRING", "")
        url = f"{self.origin}{request.script_root}{request.path}" + (f"?{query}" if query else "")
        exchange = self.transcript.new_exchange()
        t = self.transcript
        t.inbound_request(leg=legs[0], flow=flow, started=started, exchange=exchange, method=request.method,
                          url=url, headers=request.headers.items(), body=body)
        refused = request.refused
        verdicts = request.verdicts or tuple(getattr(refused, "verdicts", ()) or ())
        if request.endpoint == "callback" and verdicts:
            t.validation(flow=flow, verdicts=verdicts, error=refused)
        status = response.status_code
        answer = None if response.is_streamed else (response.mimetype or "", response.get_data())
        t.inbound_response(leg=legs[1] if status < 400 else "refused", flow=flow, exchange=exchange,
                           method=request.method, url=url, status=status, headers=response.headers.items(),
                           body=answer, elapsed=elapsed, error=refused)

    @staticmethod
    def _request_body(request: AppRequest) -> tuple[str, bytes] | None:
        if request.method != "POST":
            return None
        try:
            raw = request.get_data(cache=True)  # already read by the handler (read_form caches it)
        except Exception:  # a body the handler refused (413): not recorded
            return None
        return (request.mimetype or "", raw) if raw else None

    @staticmethod
    def _location_flow(response: Response) -> str | None:
        match = _STATE.search(response.headers.get("Location") or "")
        return _state_flow(unquote_plus(match.group(1))) if match else None

    @staticmethod
    def _form_flow(body: tuple[str, bytes] | None) -> str | None:
        match = _STATE.search(body[1].decode("utf-8", "replace")) if body is not None else None
        return _state_flow(unquote_plus(match.group(1))) if match else None
