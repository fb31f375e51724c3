"""WSGITransport: the same rules as the socket transport, in-process."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from aadweb.errors import DeadlineExceeded, TransportError
from aadweb.protocol.http import HttpRequest
from aadweb.secret import Secret
from aadweb.transport import Transport
from aadweb.transport.wsgi import WSGITransport


class App:
    """Records what it receives; answers by path."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.produced = 0
        self.closed = False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        self.seen.append(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query_string.decode(),
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "form": request.form.to_dict(),
                "remote_addr": request.remote_addr,
            }
        )
        if request.path == "/redirect":
            return Response(status=307, headers={"Location": "/target"})(environ, start_response)
        if request.path == "/endless":
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            return self._endless()
        if request.path == "/declared":
            start_response("200 OK", [("Content-Length", str(10 * 1024 * 1024))])
            return [b""]
        body = json.dumps({"ok": True}).encode()
        headers = [("Content-Type", "application/json"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
        return Response(body, headers=headers)(environ, start_response)

    def _endless(self) -> Iterator[bytes]:
        try:
            for _ in range(10_000):
                self.produced += 1
                yield b"z" * 1024
        finally:
            self.closed = True


@pytest.fixture
def app() -> App:
    return App()


def test_wsgi_transport_is_a_transport(app: App) -> None:
    assert isinstance(WSGITransport(app), Transport)


def test_sends_path_query_headers_and_remote_addr(app: App) -> None:
    response = WSGITransport(app).send(HttpRequest(method="GET", url="http://127.0.0.1:9/t%20x/keys?appid=abc"))
    assert response.status == 200
    assert response.json_object("x") == {"ok": True}
    assert response.headers["set-cookie"] == "a=1, b=2"
    assert response.url == "http://127.0.0.1:9/t%20x/keys?appid=abc"
    seen = app.seen[0]
    assert seen["path"] == "/t x/keys"
    assert seen["query"] == "appid=abc"
    assert seen["remote_addr"] == "127.0.0.1"
    assert seen["headers"]["host"] == "127.0.0.1:9"
    assert seen["headers"]["x-client-sku"] == "aadweb"
    assert seen["headers"]["return-client-request-id"] == "true"
    assert "client-request-id" not in seen["headers"]  # the request's own, and it has none


def test_form_body_with_secrets(app: App) -> None:
    request = HttpRequest(
        method="POST", url="https://login.example/t/oauth2/token", form={"code": Secret("code", "c&=1"), "x": "y"}
    )
    WSGITransport(app).send(request)
    seen = app.seen[0]
    assert seen["method"] == "POST"
    assert seen["form"] == {"code": "c&=1", "x": "y"}
    assert seen["headers"]["content-type"] == "application/x-www-form-urlencoded"


def test_redirect_is_not_followed(app: App) -> None:
    request = HttpRequest(method="POST", url="http://127.0.0.1/redirect", form={"a": "b"})
    response = WSGITransport(app).send(request)
    assert response.status == 307
    assert [s["path"] for s in app.seen] == ["/redirect"]


def test_body_cap_stops_the_app_iterator_early_and_closes_it(app: App) -> None:
    with pytest.raises(TransportError, match="larger than 4096 bytes"):
        WSGITransport(app, max_body=4096).send(HttpRequest(method="GET", url="http://127.0.0.1/endless"))
    assert app.produced == 5
    assert app.closed


def test_declared_length_over_the_cap_is_refused(app: App) -> None:
    with pytest.raises(TransportError, match="Content-Length"):
        WSGITransport(app).send(HttpRequest(method="GET", url="http://127.0.0.1/declared"))


def test_deadline_checked_before_and_during_the_body(app: App) -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0
        return now[0]

    transport = WSGITransport(app, timeout=3.0, clock=clock)
    with pytest.raises(DeadlineExceeded, match="before sending"):
        transport.send(HttpRequest(method="GET", url="http://127.0.0.1/"), deadline=0.5)
    with pytest.raises(DeadlineExceeded):
        transport.send(HttpRequest(method="GET", url="http://127.0.0.1/endless"))
    assert app.closed


def test_header_injection_refused(app: App) -> None:
    request = HttpRequest(method="GET", url="http://127.0.0.1/", headers={"X-A": "1\nX-B: 2"})
    with pytest.raises(TransportError):
        WSGITransport(app).send(request)
    assert app.seen == []
