"""The web side of the wire transcript: the legs that reach the app, and their answers.

:class:`WireTap` wraps the app's request handling (``AadWebApp.wsgi_app``) when
``AADWEB_WIRE_LOG`` is set. For the sign-in endpoints it writes the request as it arrived and
the answer as it left (Set-Cookie and security headers included), paired by an exchange id,
and for the callback the id_token verdicts in between.

It is also the :class:`~aadweb.signin.SignIn`'s observer (``aadweb.events``): the HTTP is
the tap's to see, but which sign-in a request belongs to, its verdicts and its refusal are what
``SignIn`` reports while the request is answered. The first flow reported (``SignInBegun``,
``CallbackReceived``, ``SessionResumed``) becomes the request's flow and goes into
:data:`~aadweb.flow.current_flow` at once, so the outbound legs made while answering
(metadata, JWKS, token, refresh, Graph) carry the same flow id. Nothing is read back out of
a URL, a header or a body.

Nothing here changes a response or raises into the request; the transcript counts and logs
its own failures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from werkzeug.wrappers import Response

from aadweb._fs import why_not_writable
from aadweb.errors import AadWebError, Verdict
from aadweb.events import IdTokenChecked, SignInEvent, SignInRefused
from aadweb.flow import current_flow
from aadweb.protocol.hosts import is_loopback_host
from aadweb.settings import Settings
from aadweb.transcript.writer import Transcript

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from aadweb.web.app import AppRequest

__all__ = ["RECORDED", "WireTap", "wire_problems"]

#: Endpoint -> (leg of the request, leg of a successful answer). A 4xx/5xx answer is "refused".
RECORDED: Final = {
    "login": ("login", "authorize_redirect"),
    "form_post": ("form_post", "form_post_redirect"),
    "callback": ("callback", "signed_in"),
    "graphcall": ("graphcall", "graphcall_page"),
    "logout": ("logout", "logout_redirect"),
}


@dataclass(slots=True)
class _Heard:
    """What SignIn reported while one request was answered: the tap's scratch, one per request."""

    flow: str | None = None
    verdicts: tuple[Verdict, ...] = ()
    refused: AadWebError | None = None
    #: The request's headers as they arrived.
    arrived: list[tuple[str, str]] = field(default_factory=list)


#: The request being answered in this thread/context (None: outside one, e.g. a background job).
_heard: ContextVar[_Heard | None] = ContextVar("aadweb_wiretap_heard", default=None)


def wire_problems(settings: Settings) -> list[str]:
    """What is wrong with the transcript options, found without opening the file
    (:func:`aadweb.compose.open_transcript` opens it).

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
    if settings.wire_log:
        why = why_not_writable(settings.wire_log)
        if why is not None:
            problems.append(f"AADWEB_WIRE_LOG {settings.wire_log} cannot be opened for appending ({why}).")
    return problems


class WireTap:
    """Records the inbound legs of one app into ``transcript``; ``origin`` is the app's own
    ``scheme://host[:port]`` (from the redirect URI: recorded URLs never come from ``Host``)."""

    def __init__(self, transcript: Transcript, *, origin: str,
                 clock: Callable[[], float] = time.time, timer: Callable[[], float] = time.perf_counter) -> None:
        self.transcript = transcript
        self.origin = origin
        self.clock = clock
        self.timer = timer

    def on_event(self, event: SignInEvent) -> None:
        """The :class:`~aadweb.events.SignInObserver` hook: note what the request's sign-in did."""
        heard = _heard.get()
        if heard is None:
            return  # not inside a request this tap answers
        if heard.flow is None and event.flow is not None:
            heard.flow = event.flow
            current_flow.set(event.flow)  # reset by around() when the request is answered
        if isinstance(event, IdTokenChecked):
            heard.verdicts = event.verdicts
        elif isinstance(event, SignInRefused):
            heard.refused = event.error

    def around(self, request: AppRequest,
               respond: Callable[[AppRequest], Response | WSGIApplication]) -> Response | WSGIApplication:
        """``respond(request)``, recorded when its endpoint is one of :data:`RECORDED` (the
        protected app's own answers are not: they are not part of a sign-in)."""
        started, t0 = self.clock(), self.timer()
        heard = _Heard(arrived=list(request.headers.items()))  # before the gate takes its cookies out
        heard_token, flow_token = _heard.set(heard), current_flow.set(None)
        try:
            response = respond(request)
            try:
                if isinstance(response, Response):
                    self._record(request, response, heard, started, self.timer() - t0)
            except Exception as exc:  # the transcript never breaks an answer
                self.transcript.failed(exc)
            return response
        finally:
            current_flow.reset(flow_token)
            _heard.reset(heard_token)

    def _record(self, request: AppRequest, response: Response, heard: _Heard, started: float,
                elapsed: float) -> None:
        legs = RECORDED.get(request.endpoint or "")
        if legs is None:
            return
        body = self._request_body(request)
        flow = heard.flow
        query = request.environ.get("QUERY_STRING", "")
        url = f"{self.origin}{request.script_root}{request.path}" + (f"?{query}" if query else "")
        exchange = self.transcript.new_exchange()
        t = self.transcript
        t.inbound_request(leg=legs[0], flow=flow, started=started, exchange=exchange, method=request.method,
                          url=url, headers=heard.arrived, body=body)
        status = response.status_code
        refused = heard.refused if status >= 400 else None
        if heard.verdicts:
            t.validation(flow=flow, verdicts=heard.verdicts, error=refused)
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
