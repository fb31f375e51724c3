"""HAR 1.2 export of a wire transcript (http://www.softwareishard.com/blog/har-12-spec/).

Browser dev tools (Chrome, Firefox: Network > Import HAR) open the result. One *page* per
sign-in flow; one *entry* per HTTP exchange: an outbound call is one record, an inbound
request and the app's answer are two records joined by their ``exchange`` id. The records are
already redacted, so the HAR holds fingerprints, never secrets. What HAR has no field for (the
leg, the flow, the verdicts, the id_token summary, the ids) goes into ``_``-prefixed custom
fields, which the spec allows, and the verdicts also into the callback entry's ``comment``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import parse_qsl, quote, urlsplit

from aadweb.transcript.reader import sort_key
from aadweb.transcript.render import status_text
from aadweb.transcript.schema import Body, Headers, TranscriptRecord
from aadweb.transport.common import VERSION

__all__ = ["to_har"]

_URL_SAFE: Final = ":/?#[]@!$&'()*+,;=%~-._"


def to_har(records: Iterable[TranscriptRecord]) -> dict[str, Any]:
    """The HAR 1.2 document (a dict, ready for ``json.dump``) for ``records``."""
    ordered = sorted(records, key=sort_key)
    pages: dict[str, dict[str, Any]] = {}
    entries: list[tuple[tuple[float, int, int], dict[str, Any]]] = []
    waiting: dict[str, TranscriptRecord] = {}
    verdicts: dict[str | None, TranscriptRecord] = {}
    for record in ordered:
        flow = record.flow
        if flow is not None and flow not in pages:
            pages[flow] = {"startedDateTime": record.time, "id": flow, "title": f"aadweb sign-in {flow}",
                           "pageTimings": {"onContentLoad": -1, "onLoad": -1}}
        has_request, has_response = record.request is not None, record.response is not None
        if record.leg == "validation":
            verdicts[flow] = record
        elif has_request and (has_response or record.error is not None):
            entries.append((sort_key(record), _entry(record, record)))
        elif has_request:
            waiting[str(record.exchange)] = record
        elif has_response:
            request = waiting.pop(str(record.exchange), None)
            entry = _entry(request, record)
            if request is not None and request.leg == "callback" and flow in verdicts:
                _attach_verdicts(entry, verdicts.pop(flow))
            entries.append((sort_key(request or record), entry))
    entries += [(sort_key(r), _entry(r, None)) for r in waiting.values()]  # never answered (worker died?)
    entries.sort(key=lambda pair: pair[0])
    return {"log": {
        "version": "1.2",
        "creator": {"name": "aadweb", "version": VERSION},
        "pages": list(pages.values()),
        "entries": [entry for _, entry in entries],
        "comment": "aadweb wire transcript: secrets appear only as fingerprints \u00abkind:sha256-prefix len=N\u00bb.",
    }}


def _pairs(headers: Headers) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers]


def _header(headers: list[dict[str, str]], name: str) -> str:
    return next((h["value"] for h in headers if h["name"].lower() == name), "")


def _cookies(headers: list[dict[str, str]], name: str) -> list[dict[str, Any]]:
    """HAR cookies from the (redacted) ``cookie`` or ``set-cookie`` headers."""
    cookies: list[dict[str, Any]] = []
    for h in headers:
        if h["name"].lower() != name:
            continue
        if name == "cookie":
            for part in h["value"].split(";"):
                key, eq, value = part.strip().partition("=")
                if eq:
                    cookies.append({"name": key, "value": value})
            continue
        first, *attributes = h["value"].split(";")
        key, eq, value = first.strip().partition("=")
        if not eq:
            continue
        cookie: dict[str, Any] = {"name": key, "value": value}
        for attribute in attributes:
            attr, _, attr_value = attribute.strip().partition("=")
            attr = attr.lower()
            if attr in ("path", "domain", "expires"):
                cookie[attr] = attr_value
            elif attr == "httponly":
                cookie["httpOnly"] = True
            elif attr == "secure":
                cookie["secure"] = True
        cookies.append(cookie)
    return cookies


def _body_text(body: Body) -> str:
    if body.kind == "json":
        return json.dumps(body.json, ensure_ascii=False)
    if body.kind == "form":
        return "&".join(f"{k}={v}" for k, v in _form_params(body))
    return body.text


def _form_params(body: Body) -> list[tuple[str, str]]:
    return [(name, item) for name, value in body.form for item in (value if isinstance(value, tuple) else (value,))]


def _entry(request_record: TranscriptRecord | None, response_record: TranscriptRecord | None) -> dict[str, Any]:
    first = request_record or response_record
    assert first is not None
    url = first.url or ""
    req = None if request_record is None else request_record.request
    resp = None if response_record is None else response_record.response
    req_headers = _pairs(req.headers) if req is not None else []
    req_body = None if req is None else req.body
    elapsed = None if response_record is None else response_record.elapsed_ms
    time_ms = float(elapsed) if elapsed is not None else 0.0
    request: dict[str, Any] = {
        "method": first.method or "GET",
        "url": quote(url, safe=_URL_SAFE),
        "httpVersion": "HTTP/1.1",
        "cookies": _cookies(req_headers, "cookie"),
        "headers": req_headers,
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)],
        "headersSize": -1,
        "bodySize": req_body.size if req_body is not None and req_body.size is not None else 0,
    }
    if req_body is not None:
        post: dict[str, Any] = {"mimeType": req_body.mime or ""}
        if req_body.kind == "form":
            post["params"] = [{"name": k, "value": v} for k, v in _form_params(req_body)]
        else:
            post["text"] = _body_text(req_body)
        request["postData"] = post
    if resp is not None:
        resp_headers = _pairs(resp.headers)
        body = resp.body
        status = resp.status if resp.status is not None else 0
        content: dict[str, Any] = {"size": body.size if body is not None and body.size is not None else 0,
                                   "mimeType": (body.mime if body is not None else None)
                                   or _header(resp_headers, "content-type") or "x-unknown"}
        if body is not None:
            content["text"] = _body_text(body)
        response: dict[str, Any] = {
            "status": status, "statusText": status_text(status).partition(" ")[2], "httpVersion": "HTTP/1.1",
            "cookies": _cookies(resp_headers, "set-cookie"), "headers": resp_headers, "content": content,
            "redirectURL": _header(resp_headers, "location"), "headersSize": -1,
            "bodySize": content["size"],
        }
    else:
        response = {"status": 0, "statusText": "", "httpVersion": "HTTP/1.1", "cookies": [], "headers": [],
                    "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "", "headersSize": -1,
                    "bodySize": -1}
    entry: dict[str, Any] = {
        "startedDateTime": first.time,
        "time": time_ms,
        "request": request,
        "response": response,
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "send": 0, "wait": time_ms, "receive": 0, "ssl": -1},
        "_leg": first.leg,
        "_answer_leg": None if response_record is None else response_record.leg,
        "_flow": first.flow,
        "_from": first.sender,
        "_to": first.receiver,
        "_pid": first.pid,
    }
    if first.flow is not None:
        entry["pageref"] = first.flow
    for key in ("client_request_id", "trace_id", "correlation_id"):
        value = getattr(first, key) or (getattr(response_record, key) if response_record is not None else None)
        if value:
            entry[f"_{key}"] = value
    jwts = {**dict(first.jwt or ()), **dict((response_record.jwt if response_record is not None else None) or ())}
    if jwts:
        entry["_jwt"] = {where: summary.to_json() for where, summary in jwts.items()}
    error = (response_record.error if response_record is not None else None) or first.error
    if error is not None:
        entry["_error"] = error.to_json()
    return entry


def _attach_verdicts(entry: dict[str, Any], validation: TranscriptRecord) -> None:
    verdicts = validation.verdicts or ()
    entry["_verdicts"] = [v.to_json() for v in verdicts]
    entry["comment"] = "; ".join(f"{'PASS' if v.passed else 'FAIL'} {v.check} ({v.reference})" for v in verdicts)
