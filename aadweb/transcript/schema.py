"""The transcript record, typed: what one JSON Lines line of a wire transcript holds.

The writer (:mod:`aadweb.transcript.writer`) builds each record as a plain dict, because it only
writes JSON; every reader (``aadweb wire``, the HAR export, the ``/_aadweb/wire`` page) gets a
:class:`TranscriptRecord` from :func:`parse_record`, the one place that looks inside a JSON object
read back from a file. A file may be hand-edited or hostile: a line that does not fit the schema
raises :class:`InvalidRecord` here, and the reader skips and counts it.

Record schema (version 1; absent sections are ``null``)::

    {"v": 1, "ts": 1714564800.123456, "time": "2024-05-01T12:00:00.123Z", "pid": 4242, "seq": 17,
     "flow": "3f9a1c2b7d4e5f60", "leg": "token", "from": "app", "to": "authority", "exchange": "4242-17",
     "method": "POST", "url": "https://login.microsoftonline.com/<tenant>/oauth2/token",
     "request": {"headers": [["content-type", "..."], ...], "body": {"mime", "size", "form" | "json" | "redacted"}},
     "response": {"status": 200, "headers": [...], "body": {...}},
     "elapsed_ms": 41.2, "client_request_id": "...", "trace_id": "...", "correlation_id": "...",
     "jwt": {"response.json.id_token": {"fingerprint", "header", "claims", "nonce", "c_hash", ...}},
     "verdicts": [{"check", "passed", "reference", "detail"}], "error": {"type", "message", ...}}

``verdicts`` and ``passed`` appear only on the ``validation`` leg. A body too large for one line
keeps ``mime`` and ``size`` and says why it is ``omitted``. :meth:`TranscriptRecord.to_json` gives
the record back as the writer wrote it (the same keys in the same order; keys this schema does
not know are dropped), for ``aadweb wire --json`` and the page's record view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, Protocol, TypeVar

__all__ = [
    "SCHEMA_VERSION",
    "Body",
    "ErrorSummary",
    "InvalidRecord",
    "JwtSummary",
    "Request",
    "Response",
    "TranscriptRecord",
    "VerdictLine",
    "parse_record",
]

SCHEMA_VERSION: Final = 1

#: The top-level keys, in the order the writer writes them (``verdicts``/``passed``: validation only).
FIELDS: Final = ("v", "ts", "time", "pid", "seq", "flow", "leg", "from", "to", "exchange", "method", "url",
                 "request", "response", "elapsed_ms", "client_request_id", "trace_id", "correlation_id", "error",
                 "jwt", "verdicts", "passed")

Headers = tuple[tuple[str, str], ...]
FormValue = str | tuple[str, ...]
BodyKind = Literal["form", "json", "redacted", "omitted"]
_T = TypeVar("_T")
_T_co = TypeVar("_T_co", covariant=True)


class InvalidRecord(ValueError):
    """A JSON value that is not a transcript record; the message names the field."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Body:
    """A body as recorded: a redacted form, a redacted JSON document, one fingerprint, or only its
    size (``omitted``: the record was too large). ``kind`` says which; None when only mime/size."""

    mime: str | None
    size: int | None
    kind: BodyKind | None = None
    form: tuple[tuple[str, FormValue], ...] = ()
    json: object = None  #: the redacted JSON document (any JSON value) when ``kind == "json"``
    text: str = ""  #: the fingerprint (``redacted``) or the reason (``omitted``)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"mime": self.mime, "size": self.size}
        if self.kind == "form":
            out["form"] = {name: list(v) if isinstance(v, tuple) else v for name, v in self.form}
        elif self.kind == "json":
            out["json"] = self.json
        elif self.kind is not None:
            out[self.kind] = self.text
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    headers: Headers
    body: Body | None

    def to_json(self) -> dict[str, object]:
        return {"headers": _headers_json(self.headers), "body": None if self.body is None else self.body.to_json()}


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    status: int | None
    headers: Headers
    body: Body | None

    def header(self, name: str) -> str | None:
        """The last value of header ``name`` (names are recorded in lower case)."""
        return next((v for n, v in reversed(self.headers) if n == name), None)

    def to_json(self) -> dict[str, object]:
        return {"status": self.status, "headers": _headers_json(self.headers),
                "body": None if self.body is None else self.body.to_json()}


@dataclass(frozen=True, slots=True, kw_only=True)
class JwtSummary:
    """An id_token as recorded: its fingerprint, public header fields, non-personal claims,
    whether ``nonce``/``c_hash`` are present, the other claims' names; or ``malformed``."""

    fingerprint: str
    malformed: bool = False
    header: Mapping[str, object] | None = None
    signed: bool | None = None
    claims: Mapping[str, object] | None = None
    nonce: str | None = None
    c_hash: str | None = None
    other_claims: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"fingerprint": self.fingerprint}
        if self.malformed:
            out["malformed"] = True
        fields: dict[str, object] = {
            "header": self.header, "signed": self.signed, "claims": self.claims, "nonce": self.nonce,
            "c_hash": self.c_hash, "other_claims": None if self.other_claims is None else list(self.other_claims)}
        out.update((k, v) for k, v in fields.items() if v is not None)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class VerdictLine:
    """One id_token check: its name, pass or fail, the spec reference, a detail."""

    check: str
    passed: bool
    reference: str = ""
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        return {"check": self.check, "passed": self.passed, "reference": self.reference, "detail": self.detail}


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorSummary:
    """What a record says about an exception: its class; for aadweb's errors the message and the
    status; for the authority's refusals (``authority``) and Graph's (``graph``) their ids."""

    type: str
    message: str | None = None
    status: int | None = None
    authority: AuthorityIds | None = None
    graph: GraphIds | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"type": self.type}
        if self.message is not None:
            out.update(message=self.message, status=self.status)
        if self.authority is not None:
            a = self.authority
            out.update(error=a.error, error_codes=list(a.error_codes), trace_id=a.trace_id,
                       correlation_id=a.correlation_id)
        if self.graph is not None:
            out.update(http_status=self.graph.http_status, code=self.graph.code, request_id=self.graph.request_id)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorityIds:
    error: str | None
    error_codes: tuple[int, ...]
    trace_id: str | None
    correlation_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphIds:
    http_status: int | None
    code: str | None
    request_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptRecord:
    """One leg of a sign-in (see the module docstring for the JSON it comes from).

    An outbound call has ``request`` and ``response`` (or ``error``); an inbound request only
    ``request``, the app's answer to it only ``response`` (the two share ``exchange``); the
    ``validation`` leg only ``verdicts``. ``keys`` are the top-level keys as stored, in order.
    """

    leg: str
    v: int | None = None
    ts: float | None = None
    time: str | None = None
    pid: int | None = None
    seq: int | None = None
    flow: str | None = None
    sender: str | None = None  #: "from"
    receiver: str | None = None  #: "to"
    exchange: str | None = None
    method: str | None = None
    url: str | None = None
    request: Request | None = None
    response: Response | None = None
    elapsed_ms: float | None = None
    client_request_id: str | None = None
    trace_id: str | None = None
    correlation_id: str | None = None
    error: ErrorSummary | None = None
    jwt: tuple[tuple[str, JwtSummary], ...] | None = None
    verdicts: tuple[VerdictLine, ...] | None = None
    passed: bool | None = None
    keys: tuple[str, ...] = FIELDS

    def to_json(self) -> dict[str, object]:
        """The record as the writer wrote it (its keys, in their order)."""
        values: dict[str, object] = {
            "v": self.v, "ts": self.ts, "time": self.time, "pid": self.pid, "seq": self.seq, "flow": self.flow,
            "leg": self.leg, "from": self.sender, "to": self.receiver, "exchange": self.exchange,
            "method": self.method, "url": self.url,
            "request": None if self.request is None else self.request.to_json(),
            "response": None if self.response is None else self.response.to_json(),
            "elapsed_ms": self.elapsed_ms, "client_request_id": self.client_request_id, "trace_id": self.trace_id,
            "correlation_id": self.correlation_id, "error": None if self.error is None else self.error.to_json(),
            "jwt": None if self.jwt is None else {where: s.to_json() for where, s in self.jwt},
            "verdicts": None if self.verdicts is None else [v.to_json() for v in self.verdicts],
            "passed": self.passed,
        }
        return {key: values[key] for key in self.keys}


# --- parsing ------------------------------------------------------------------------------------


def parse_record(obj: object) -> TranscriptRecord:
    """The record ``obj`` (a JSON value read back from a transcript) holds; raises
    :class:`InvalidRecord` when it is not one (not an object, no ``leg``, a field of the wrong type)."""
    o = _object(obj, "record")
    leg = o.get("leg")
    if not isinstance(leg, str):
        raise InvalidRecord("a record names its leg")
    jwt = _opt(o, "jwt", dict, "record")
    verdicts = _opt(o, "verdicts", list, "record")
    return TranscriptRecord(
        leg=leg, v=_int(o, "v", "record"), ts=_number(o, "ts", "record"), time=_str(o, "time", "record"),
        pid=_int(o, "pid", "record"), seq=_int(o, "seq", "record"), flow=_str(o, "flow", "record"),
        sender=_str(o, "from", "record"), receiver=_str(o, "to", "record"), exchange=_str(o, "exchange", "record"),
        method=_str(o, "method", "record"), url=_str(o, "url", "record"),
        request=_section(o, "request", _request), response=_section(o, "response", _response),
        elapsed_ms=_number(o, "elapsed_ms", "record"), client_request_id=_str(o, "client_request_id", "record"),
        trace_id=_str(o, "trace_id", "record"), correlation_id=_str(o, "correlation_id", "record"),
        error=_section(o, "error", _error),
        jwt=None if jwt is None else tuple((str(k), _jwt(v, f"jwt.{k}")) for k, v in jwt.items()),
        verdicts=None if verdicts is None else tuple(_verdict(v) for v in verdicts),
        passed=_opt(o, "passed", bool, "record"),
        keys=tuple(k for k in o if k in FIELDS),
    )


def _object(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise InvalidRecord(f"{where} is not a JSON object")
    return value


def _opt(o: Mapping[str, object], key: str, kind: type[_T], where: str) -> _T | None:
    value = o.get(key)
    if value is None:
        return None
    # bool is an int to Python, not to JSON: a count is never true or false.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise InvalidRecord(f"{where}.{key} is not a {kind.__name__}")
    return value


def _str(o: Mapping[str, object], key: str, where: str) -> str | None:
    return _opt(o, key, str, where)


def _int(o: Mapping[str, object], key: str, where: str) -> int | None:
    return _opt(o, key, int, where)


def _number(o: Mapping[str, object], key: str, where: str) -> float | None:
    value = o.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRecord(f"{where}.{key} is not a number")
    return value


def _section(o: Mapping[str, object], key: str, parse: _Parser[_T]) -> _T | None:
    value = o.get(key)
    return None if value is None else parse(_object(value, key), key)


class _Parser(Protocol[_T_co]):
    def __call__(self, o: Mapping[str, object], where: str, /) -> _T_co: ...


def _headers(value: object, where: str) -> Headers:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidRecord(f"{where}.headers is not a list")
    pairs: list[tuple[str, str]] = []
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) and isinstance(pair[1], str)):
            raise InvalidRecord(f"{where}.headers holds something other than [name, value]")
        pairs.append((pair[0], pair[1]))
    return tuple(pairs)


def _headers_json(headers: Headers) -> list[list[str]]:
    return [[name, value] for name, value in headers]


def _body(o: Mapping[str, object], where: str) -> Body | None:
    value = o.get("body")
    if value is None:
        return None
    b = _object(value, f"{where}.body")
    mime, size = _str(b, "mime", f"{where}.body"), _int(b, "size", f"{where}.body")
    if "form" in b:
        form = _object(b["form"], f"{where}.body.form")
        return Body(mime=mime, size=size, kind="form", form=tuple((k, _form_value(v, where)) for k, v in form.items()))
    if "json" in b:
        return Body(mime=mime, size=size, kind="json", json=b["json"])
    for kind in ("redacted", "omitted"):
        if kind in b:
            text = _str(b, kind, f"{where}.body")
            return Body(mime=mime, size=size, kind=kind, text="" if text is None else text)
    return Body(mime=mime, size=size)


def _form_value(value: object, where: str) -> FormValue:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise InvalidRecord(f"{where}.body.form holds something other than strings")


def _request(o: Mapping[str, object], where: str) -> Request:
    return Request(headers=_headers(o.get("headers"), where), body=_body(o, where))


def _response(o: Mapping[str, object], where: str) -> Response:
    return Response(status=_int(o, "status", where), headers=_headers(o.get("headers"), where), body=_body(o, where))


def _jwt(value: object, where: str) -> JwtSummary:
    o = _object(value, where)
    other = _opt(o, "other_claims", list, where)
    return JwtSummary(
        fingerprint=_str(o, "fingerprint", where) or "", malformed=_opt(o, "malformed", bool, where) is True,
        header=_opt(o, "header", dict, where), signed=_opt(o, "signed", bool, where),
        claims=_opt(o, "claims", dict, where), nonce=_str(o, "nonce", where), c_hash=_str(o, "c_hash", where),
        other_claims=None if other is None else tuple(str(name) for name in other),
    )


def _verdict(value: object) -> VerdictLine:
    o = _object(value, "verdict")
    check, passed = o.get("check"), o.get("passed")
    if not isinstance(check, str) or not isinstance(passed, bool):
        raise InvalidRecord("a verdict names its check and whether it passed")
    return VerdictLine(check=check, passed=passed, reference=_str(o, "reference", "verdict") or "",
                       detail=_str(o, "detail", "verdict") or "")


def _error(o: Mapping[str, object], where: str) -> ErrorSummary:
    kind = o.get("type")
    if not isinstance(kind, str):
        raise InvalidRecord("error.type is not a string")
    authority = graph = None
    if "error_codes" in o or "error" in o:
        codes = _opt(o, "error_codes", list, where) or []
        if not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
            raise InvalidRecord("error.error_codes are not numbers")
        authority = AuthorityIds(error=_str(o, "error", where), error_codes=tuple(codes),
                                 trace_id=_str(o, "trace_id", where), correlation_id=_str(o, "correlation_id", where))
    if "http_status" in o:
        graph = GraphIds(http_status=_int(o, "http_status", where), code=_str(o, "code", where),
                         request_id=_str(o, "request_id", where))
    return ErrorSummary(type=kind, message=_str(o, "message", where), status=_int(o, "status", where),
                        authority=authority, graph=graph)
