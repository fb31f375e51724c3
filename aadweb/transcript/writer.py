"""The wire transcript: every leg of a sign-in as one JSON Lines record, secrets redacted.

DESIGN.md, "Wire transcript". Two kinds of leg reach the same file:

* **outbound** calls (metadata, JWKS, token, refresh, Graph) through
  :class:`~aadweb.transport.recording.RecordingTransport`, whose hook is :meth:`Transcript.on_exchange`;
  each is the leg its request names (``HttpRequest.leg``, set by the ``build_*`` function);
* **inbound** messages (the browser's requests to the app and the app's answers, the
  authority's form_post, the id_token verdicts), written by the web layer
  (``aadweb.web.wiretap``) with :meth:`Transcript.inbound_request`, :meth:`Transcript.inbound_response`
  and :meth:`Transcript.validation`.

Every record of one sign-in carries the same **flow id**, ``flow_id_for(state)``: a one-way
function of the sign-in's ``state``, so each leg can compute it without storing anything more;
the session keeps it (``SessionRecord.flow_id``) for the later Graph, refresh and logout legs.
The web layer's tap puts the flow that :class:`~aadweb.signin.SignIn` reports for the request
being answered in :data:`current_flow`, where the outbound hook reads it.

The record's schema is stated once, in :mod:`aadweb.transcript.schema`; the writer builds plain
dicts (it only writes JSON) and a test reads every kind back through ``parse_record``.

Ordering: ``seq`` counts per process and ``ts`` is the wall clock when the leg *started*; a
reader sorts a flow's records by ``(ts, pid, seq)`` (several workers, or hosts with synchronised
clocks, may write legs of one flow). An inbound request and its answer share ``exchange``.

Writing is safe across threads, processes and gunicorn workers: one ``os.write`` of one whole
line on an ``O_APPEND`` descriptor, under ``flock(LOCK_EX)``; the file is opened lazily per
process (again after a fork). A failure to write is logged (at most once a minute) and never
reaches the request.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final
from urllib.parse import urlencode

from aadweb.errors import AuthorityError
from aadweb.flow import current_flow
from aadweb.protocol.http import HttpRequest, HttpResponse
from aadweb.transcript.records import (
    Record,
    diagnostic_id,
    diagnostics,
    error_summary,
    is_json,
    iso,
    line,
    parse_json,
    record_body,
)
from aadweb.transcript.redact import Redactor
from aadweb.transcript.schema import SCHEMA_VERSION
from aadweb.transport.common import FORM_CONTENT_TYPE, USER_AGENT, outbound_headers

__all__ = ["LEG_ENDS", "SCHEMA_VERSION", "Transcript"]

log = logging.getLogger("aadweb.transcript")

#: Each leg's sender and receiver: the lifelines of the sequence diagram.
LEG_ENDS: Final[Mapping[str, tuple[str, str]]] = {
    "login": ("browser", "app"),
    "authorize_redirect": ("app", "browser"),
    "form_post": ("authority", "app"),
    "form_post_redirect": ("app", "browser"),
    "callback": ("browser", "app"),
    "metadata": ("app", "authority"),
    "jwks": ("app", "authority"),
    "token": ("app", "authority"),
    "validation": ("app", "app"),
    "signed_in": ("app", "browser"),
    "graphcall": ("browser", "app"),
    "refresh": ("app", "authority"),
    "graph": ("app", "graph"),
    "graphcall_page": ("app", "browser"),
    "logout": ("browser", "app"),
    "logout_redirect": ("app", "browser"),
    "refused": ("app", "browser"),
    "call": ("app", "remote"),
}

#: Which JSON schema (``aadweb.transcript.redact.SCHEMAS``) a leg's response body has, by success.
_RESPONSE_SCHEMA: Final[Mapping[tuple[str, bool], str]] = {
    ("token", True): "token", ("token", False): "oauth_error",
    ("refresh", True): "token", ("refresh", False): "oauth_error",
    ("metadata", True): "metadata", ("metadata", False): "oauth_error",
    ("jwks", True): "jwks", ("jwks", False): "oauth_error",
    ("graph", True): "graph_me", ("graph", False): "graph_error",
}
_WARN_EVERY: Final = 60.0


_LIVE: weakref.WeakSet[Transcript] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for transcript in list(_LIVE):
        transcript._forget_parent()


os.register_at_fork(after_in_child=_after_fork_in_child)


class Transcript:
    """Appends redacted records to ``path`` (and hands each to ``sink``, if given).

    ``personal`` shows personal values (``AADWEB_WIRE_PERSONAL``); ``clock`` (wall clock) and
    ``pid`` are injectable. An outbound leg's name is the request's own ``leg`` label (``call``
    when a request carries none).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        personal: bool = False,
        clock: Callable[[], float] = time.time,
        pid: Callable[[], int] = os.getpid,
        sink: Callable[[Record], None] | None = None,
    ) -> None:
        self.path = None if path is None else os.fspath(path)
        self.personal = personal
        self._clock = clock
        self._pid = pid
        self._sink = sink
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._fd_pid = 0
        self._warned_at = -_WARN_EVERY
        #: How many records could not be written (each failure is also logged, rate-limited).
        self.failures = 0
        _LIVE.add(self)

    # --- the file ---------------------------------------------------------------------------

    def check_writable(self) -> None:
        """Open the file now (raises ``OSError``): for a clear error at start-up."""
        if self.path is not None:
            with self._lock:
                self._open()

    def _open(self) -> int:
        if self._fd is None or self._fd_pid != os.getpid():
            assert self.path is not None
            # 0o600: fingerprints only, but a transcript is still nobody else's business.
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._fd_pid = os.getpid()
        return self._fd

    def _forget_parent(self) -> None:
        """In a forked child: a fresh lock, and the parent's descriptor closed (reopened lazily)."""
        self._lock = threading.Lock()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = None

    def close(self) -> None:
        with self._lock:
            if self._fd is not None and self._fd_pid == os.getpid():
                with contextlib.suppress(OSError):
                    os.close(self._fd)
            self._fd = None

    def write(self, record: Record) -> None:
        """Append ``record`` as one whole line. Never raises: a failure is counted and logged."""
        try:
            data = line(record)
            if self._sink is not None:
                self._sink(record)
            if self.path is None:
                return
            with self._lock:
                fd = self._open()
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        except Exception as exc:
            self.failed(exc)

    def failed(self, exc: BaseException) -> None:
        """Count a record that could not be made or written; log it (at most once a minute)."""
        self.failures += 1
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            where = self.path or "the transcript sink"
            log.warning("wire transcript: cannot write to %s (%s); the app goes on without it",
                        where, type(exc).__name__ if not isinstance(exc, OSError) else exc.strerror)

    # --- records ------------------------------------------------------------------------------

    def new_exchange(self) -> str:
        """An id pairing an inbound request with its answer."""
        return f"{self._pid()}-x{next(self._seq)}"

    def _base(self, leg: str, flow: str | None, ts: float, *, ends: tuple[str, str] | None = None) -> Record:
        sender, receiver = ends or LEG_ENDS.get(leg, ("app", "remote"))
        seq = next(self._seq)
        pid = self._pid()
        return {"v": SCHEMA_VERSION, "ts": round(ts, 6), "time": iso(ts), "pid": pid, "seq": seq, "flow": flow,
                "leg": leg, "from": sender, "to": receiver, "exchange": f"{pid}-{seq}"}

    def on_exchange(
        self, request: HttpRequest, response: HttpResponse | None, error: BaseException | None, elapsed: float
    ) -> None:
        """The :class:`~aadweb.transport.recording.RecordingTransport` hook: one outbound leg."""
        try:
            record = self._outbound(request, response, error, elapsed)
        except Exception as exc:
            self.failed(exc)
            return
        self.write(record)

    def _outbound(
        self, request: HttpRequest, response: HttpResponse | None, error: BaseException | None, elapsed: float
    ) -> Record:
        red = Redactor(personal=self.personal)
        form = request.revealed_form()
        leg = request.leg or "call"  # named by the build_* function that made the request
        record = self._base(leg, current_flow.get(), self._clock() - elapsed)
        body = None if form is None else urlencode(form).encode("ascii")
        headers = outbound_headers(request, user_agent=USER_AGENT, has_body=body is not None)
        if body is not None:
            headers["Content-Length"] = str(len(body))
        record["method"] = request.method
        record["url"] = red.url(request.url, where="request.query")
        record["request"] = {
            "headers": red.headers(headers.items()),
            "body": None if form is None or body is None else {
                "mime": FORM_CONTENT_TYPE, "size": len(body), "form": red.fields(form.items(), where="request.form")},
        }
        record["client_request_id"] = diagnostic_id(
            next((v for k, v in headers.items() if k.lower() == "client-request-id"), None))
        parsed: object = None
        if response is not None:
            mime = response.header("content-type") or ""
            schema = _RESPONSE_SCHEMA.get((leg, 200 <= response.status < 300))
            if response.body and is_json(mime):
                parsed = parse_json(response.body)
            record["response"] = {
                "status": response.status,
                "headers": red.headers(response.headers.items()),
                "body": record_body(red, mime, response.body, schema=schema, parsed=parsed, where="response.json"),
            }
            trace, correlation = diagnostics(parsed, response.headers)
        else:
            record["response"] = None
            trace = correlation = None
        record["trace_id"], record["correlation_id"] = trace, correlation
        record["elapsed_ms"] = round(elapsed * 1000, 3)
        record["error"] = None if error is None else error_summary(error)
        record["jwt"] = red.jwts or None
        return record

    def inbound_request(
        self, *, leg: str, flow: str | None, started: float, exchange: str, method: str, url: str,
        headers: Iterable[tuple[str, str]], body: tuple[str, bytes] | None = None,
    ) -> None:
        """A request that reached the app (from the browser, or the authority's form_post)."""
        try:
            red = Redactor(personal=self.personal)
            record = self._base(leg, flow, started)
            record.update(
                exchange=exchange, method=method, url=red.url(url, where="request.query"),
                request={"headers": red.headers(headers),
                         "body": None if body is None else record_body(red, body[0], body[1], where="request.form")},
                response=None, elapsed_ms=None, client_request_id=None, trace_id=None, correlation_id=None,
                error=None,
            )
            record["jwt"] = red.jwts or None
        except Exception as exc:
            self.failed(exc)
            return
        self.write(record)

    def inbound_response(
        self, *, leg: str, flow: str | None, exchange: str, method: str, url: str, status: int,
        headers: Iterable[tuple[str, str]], body: tuple[str, bytes] | None, elapsed: float,
        error: BaseException | None = None,
    ) -> None:
        """The app's answer to an inbound request (``method``/``url`` name what it answers)."""
        try:
            red = Redactor(personal=self.personal)
            record = self._base(leg, flow, self._clock())
            record.update(
                exchange=exchange, method=method, url=red.url(url, where="request.query"), request=None,
                response={"status": status, "headers": red.headers(headers),
                          "body": None if body is None else record_body(red, body[0], body[1], where="response")},
                elapsed_ms=round(elapsed * 1000, 3), client_request_id=None, trace_id=None, correlation_id=None,
                error=None if error is None else error_summary(error),
            )
            if isinstance(error, AuthorityError):
                record["trace_id"] = diagnostic_id(error.trace_id)
                record["correlation_id"] = diagnostic_id(error.correlation_id)
            record["jwt"] = red.jwts or None
        except Exception as exc:
            self.failed(exc)
            return
        self.write(record)

    def validation(self, *, flow: str | None, verdicts: Sequence[object], error: BaseException | None = None) -> None:
        """The id_token checks of one sign-in: each with pass/fail and its spec reference."""
        try:
            record = self._base("validation", flow, self._clock())
            shown = [
                {"check": str(getattr(v, "check", "")), "passed": getattr(v, "passed", False) is True,
                 "reference": str(getattr(v, "reference", "")), "detail": str(getattr(v, "detail", ""))}
                for v in verdicts
            ]
            record.update(method=None, url=None, request=None, response=None, elapsed_ms=None, client_request_id=None,
                          trace_id=None, correlation_id=None, jwt=None, verdicts=shown,
                          passed=bool(shown) and all(v["passed"] for v in shown) and error is None,
                          error=None if error is None else error_summary(error))
        except Exception as exc:
            self.failed(exc)
            return
        self.write(record)
