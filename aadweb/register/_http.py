"""Sending ``aadweb register``'s requests: one ``requests`` session, no redirects, no ambient
proxy or CA settings, certificates verified (against ``AADWEB_CA_BUNDLE`` when set), one
deadline per call. Errors name ``METHOD scheme://host/path`` only: never a header or a body."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import requests

from aadweb.errors import TransportError
from aadweb.protocol.graph_apps import GraphCall
from aadweb.protocol.http import FormValue, HttpRequest, HttpResponse
from aadweb.secret import Secret

__all__ = ["Sender"]

_MAX_BODY = 1 << 20


def _reveal(headers: Mapping[str, FormValue]) -> dict[str, str]:
    return {k: v.reveal() if isinstance(v, Secret) else v for k, v in headers.items()}


class Sender:
    def __init__(self, *, timeout: float, ca_bundle: str | None, user_agent: str) -> None:
        self._timeout = timeout
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.verify = ca_bundle if ca_bundle else True
        self._session.headers["User-Agent"] = user_agent

    def close(self) -> None:
        self._session.close()

    def form(self, request: HttpRequest) -> HttpResponse:
        return self._send(request.method, request.url, _reveal(request.headers), request.encoded_body())

    def graph(self, call: GraphCall) -> HttpResponse:
        return self._send(call.method, call.url, _reveal(call.headers), call.encoded_body())

    def _send(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> HttpResponse:
        parts = urlsplit(url)
        where = f"{method} {parts.scheme}://{parts.netloc}{parts.path}"
        try:
            resp = self._session.request(method, url, headers=headers, data=body, allow_redirects=False,
                                         timeout=self._timeout, stream=True)
            content = resp.raw.read(_MAX_BODY + 1, decode_content=True)
        except requests.RequestException as exc:
            raise TransportError(f"{where} failed: {exc.__class__.__name__}") from None
        if len(content) > _MAX_BODY:
            raise TransportError(f"{where}: the answer is larger than {_MAX_BODY} bytes")
        return HttpResponse(status=resp.status_code, headers=dict(resp.headers), body=content, url=url)
