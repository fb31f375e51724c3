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
from aadweb.transcript.records import Record
from aadweb.transcript.render import status_text
from aadweb.transport.common import VERSION

__all__ = ["to_har"]

_URL_SAFE: Final = ":/?#[]@!$&'()*+,;=%~-._"


def to_har(records: Iterable[Record]) -> dict[str, Any]:
    """The HAR 1.2 document (a dict, ready for ``json.dump``) for ``records``."""
    ordered = sorted(records, key=sort_key)
    pages: dict[str, dict[str, Any]] = {}
    entries: list[tuple[tuple[float, int, int], dict[str, Any]]] = []
    waiting: dict[str, Record] = {}
    verdicts: dict[str | None, Record] = {}
    for record in ordered:
        flow = record.get("flow") if isinstance(record.get("flow"), str) else None
        if flow is not None and flow not in pages:
            pages[flow] = {"startedDateTime": record.get("time"), "id": flow, "title": f"aadweb sign-in {flow}",
                           "pageTimings": {"onContentLoad": -1, "onLoad": -1}}
        has_request, has_response = isinstance(record.get("request"), dict), isinstance(record.get("response"), dict)
        if record.get("leg") == "validation":
            verdicts[flow] = record
        elif has_request and (has_response or record.get("error") is not None):
            entries.append((sort_key(record), _entry(record, record)))
        elif has_request:
            waiting[str(record.get("exchange"))] = record
        elif has_response:
            request = waiting.pop(str(record.get("exchange")), None)
            entry = _entry(request, record)
            if request is not None and request.get("leg") == "callback" and flow in verdicts:
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


def _pairs(headers: object) -> list[dict[str, str]]:
    if not isinstance(headers, list):
        return []
    return [{"name": str(p[0]), "value": str(p[1])} for p in headers if isinstance(p, list) and len(p) == 2]


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


def _body_text(body: dict[str, Any]) -> str:
    if "json" in body:
        return json.dumps(body["json"], ensure_ascii=False)
    if "form" in body:
        return "&".join(f"{k}={v}" for k, v in _form_params(body["form"]))
    return str(body.get("redacted") or body.get("omitted") or "")


def _form_params(form: object) -> list[tuple[str, str]]:
    if not isinstance(form, dict):
        return []
    out: list[tuple[str, str]] = []
    for name, value in form.items():
        for item in value if isinstance(value, list) else [value]:
            out.append((str(name), str(item)))
    return out


def _entry(request_record: Record | None, response_record: Record | None) -> dict[str, Any]:
    first = request_record or response_record or {}
    url = str(first.get("url") or "")
    req = (request_record or {}).get("request") or {}
    resp = (response_record or {}).get("response") if response_record is not None else None
    req_headers = _pairs(req.get("headers"))
    req_body = req.get("body") if isinstance(req.get("body"), dict) else None
    elapsed = (response_record or {}).get("elapsed_ms")
    time_ms = float(elapsed) if isinstance(elapsed, int | float) else 0.0
    request: dict[str, Any] = {
        "method": str(first.get("method") or "GET"),
        "url": quote(url, safe=_URL_SAFE),
        "httpVersion": "HTTP/1.1",
        "cookies": _cookies(req_headers, "cookie"),
        "headers": req_headers,
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)],
        "headersSize": -1,
        "bodySize": int(req_body["size"]) if req_body and isinstance(req_body.get("size"), int) else 0,
    }
    if req_body is not None:
        post: dict[str, Any] = {"mimeType": str(req_body.get("mime") or "")}
        if "form" in req_body:
            post["params"] = [{"name": k, "value": v} for k, v in _form_params(req_body["form"])]
        else:
            post["text"] = _body_text(req_body)
        request["postData"] = post
    if isinstance(resp, dict):
        resp_headers = _pairs(resp.get("headers"))
        body = resp.get("body") if isinstance(resp.get("body"), dict) else None
        raw_status = resp.get("status")
        status = raw_status if isinstance(raw_status, int) else 0  # a record may be hand-edited
        content: dict[str, Any] = {"size": body["size"] if body and isinstance(body.get("size"), int) else 0,
                                   "mimeType": str((body or {}).get("mime") or _header(resp_headers, "content-type")
                                                   or "x-unknown")}
        if body:
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
        "startedDateTime": first.get("time"),
        "time": time_ms,
        "request": request,
        "response": response,
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "send": 0, "wait": time_ms, "receive": 0, "ssl": -1},
        "_leg": first.get("leg"),
        "_answer_leg": (response_record or {}).get("leg"),
        "_flow": first.get("flow"),
        "_from": first.get("from"),
        "_to": first.get("to"),
        "_pid": first.get("pid"),
    }
    if isinstance(first.get("flow"), str):
        entry["pageref"] = first["flow"]
    for key in ("client_request_id", "trace_id", "correlation_id"):
        value = first.get(key) or (response_record or {}).get(key)
        if value:
            entry[f"_{key}"] = value
    jwts = {**(first.get("jwt") or {}), **((response_record or {}).get("jwt") or {})}
    if jwts:
        entry["_jwt"] = jwts
    error = (response_record or {}).get("error") or first.get("error")
    if error:
        entry["_error"] = error
    return entry


def _attach_verdicts(entry: dict[str, Any], validation: Record) -> None:
    verdicts = validation.get("verdicts") or []
    entry["_verdicts"] = verdicts
    entry["comment"] = "; ".join(
        f"{'PASS' if v.get('passed') else 'FAIL'} {v.get('check')} ({v.get('reference')})"
        for v in verdicts if isinstance(v, dict)
    )
