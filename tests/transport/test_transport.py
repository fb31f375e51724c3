"""RequestsTransport over real loopback sockets: headers, redirects, pooling, proxies, errors."""

from __future__ import annotations

import json
import socket
import threading
import uuid

import pytest
import requests

from aadweb.errors import ConnectionFailed, TransportError
from aadweb.protocol.http import HttpRequest
from aadweb.secret import Secret
from aadweb.transport import RequestsTransport, Transport
from tests.transport.scripted import Handler, ScriptedServer


def get(url: str, **headers: str) -> HttpRequest:
    return HttpRequest(method="GET", url=url, headers=headers)


def test_requests_transport_is_a_transport(transport: RequestsTransport) -> None:
    assert isinstance(transport, Transport)


def test_send_returns_status_lowercase_headers_body_and_url(
    server: ScriptedServer, transport: RequestsTransport
) -> None:
    def answer(h: Handler) -> None:
        h.send_body(201, b'{"a": 1}', {"Content-Type": "application/json", "X-Ms-Request-Id": "r-1"})

    server.routes["/thing"] = answer
    response = transport.send(get(server.url("/thing?x=1")))
    assert response.status == 201
    assert response.json_object("thing") == {"a": 1}
    assert response.headers["x-ms-request-id"] == "r-1"
    assert all(name == name.lower() for name in response.headers)
    assert response.url == server.url("/thing?x=1")


def test_error_status_is_returned_not_raised(server: ScriptedServer, transport: RequestsTransport) -> None:
    server.routes["/err"] = lambda h: h.send_body(503, b'{"error": "temporarily_unavailable"}')
    assert transport.send(get(server.url("/err"))).status == 503


def test_sends_aadweb_headers(server: ScriptedServer, transport: RequestsTransport) -> None:
    transport.send(get(server.url("/h")))
    headers = server.hits("/h")[0].headers
    assert headers["return-client-request-id"] == "true"
    assert headers["x-client-sku"] == "aadweb"
    assert headers["x-client-ver"]
    assert headers["accept"] == "application/json"
    assert headers["user-agent"].startswith("aadweb/")
    assert "cookie" not in headers and "authorization" not in headers


def test_a_request_without_a_client_request_id_is_sent_without_one(
    server: ScriptedServer, transport: RequestsTransport
) -> None:
    transport.send(get(server.url("/id")))
    assert "client-request-id" not in server.hits("/id")[0].headers


def test_client_request_id_carried_by_the_request_is_kept(server: ScriptedServer, transport: RequestsTransport) -> None:
    transport.send(HttpRequest(method="GET", url=server.url("/id"), headers={"Client-Request-Id": "mine-1"}))
    seen = server.hits("/id")[0].headers
    assert seen["client-request-id"] == "mine-1"


def test_request_headers_override_defaults_and_secrets_revealed_only_on_wire(
    server: ScriptedServer, transport: RequestsTransport
) -> None:
    token = Secret("access_token", "eyJ.secret.token")
    request = HttpRequest(
        method="GET",
        url=server.url("/me"),
        headers={"Authorization": Secret("bearer", f"Bearer {token.reveal()}"), "Accept": "text/plain"},
    )
    assert "eyJ.secret.token" not in repr(request)
    transport.send(request)
    seen = server.hits("/me")[0].headers
    assert seen["authorization"] == "Bearer eyJ.secret.token"
    assert seen["accept"] == "text/plain"


def test_form_body_is_urlencoded_with_secrets_revealed(server: ScriptedServer, transport: RequestsTransport) -> None:
    request = HttpRequest(
        method="POST",
        url=server.url("/tenant/oauth2/token"),
        form={
            "grant_type": "authorization_code",
            "client_secret": Secret("client_secret", "s3cr&t=1"),
            "code": Secret("code", "c o d e"),
        },
    )
    transport.send(request)
    seen = server.hits("/tenant/oauth2/token")[0]
    assert seen.method == "POST"
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen.body == b"grant_type=authorization_code&client_secret=s3cr%26t%3D1&code=c+o+d+e"
    assert "s3cr" not in repr(request)


def test_redirect_is_returned_and_never_followed(server: ScriptedServer, transport: RequestsTransport) -> None:
    # 307 asks the client to repeat the POST, body and all, at the new location.
    server.routes["/token"] = lambda h: h.send_body(307, b"", {"Location": server.url("/elsewhere")})
    request = HttpRequest(method="POST", url=server.url("/token"), form={"client_secret": Secret("client_secret", "x")})
    response = transport.send(request)
    assert response.status == 307
    assert response.headers["location"] == server.url("/elsewhere")
    assert len(server.hits("/token")) == 1
    assert server.hits("/elsewhere") == []


@pytest.mark.parametrize("status", [301, 302, 303, 308])
def test_no_redirect_status_is_followed(server: ScriptedServer, transport: RequestsTransport, status: int) -> None:
    server.routes["/r"] = lambda h: h.send_body(status, b"", {"Location": "/elsewhere"})
    assert transport.send(get(server.url("/r"))).status == status
    assert server.hits("/elsewhere") == []


def test_keep_alive_reuses_one_connection(server: ScriptedServer, transport: RequestsTransport) -> None:
    for _ in range(5):
        transport.send(get(server.url("/k")))
    ports = {s.client_port for s in server.hits("/k")}
    assert len(server.hits("/k")) == 5
    assert len(ports) == 1


def test_cookies_from_a_response_are_not_sent_on_later_calls(
    server: ScriptedServer, transport: RequestsTransport
) -> None:
    server.routes["/set"] = lambda h: h.send_body(
        200, b"{}", {"Set-Cookie": "fpc=abc; Path=/", "Content-Type": "application/json"}
    )
    transport.send(get(server.url("/set")))
    transport.send(get(server.url("/after")))
    assert "cookie" not in server.hits("/after")[0].headers


def test_environment_proxy_is_ignored(
    server: ScriptedServer, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    bogus = f"http://127.0.0.1:{closed_port}"
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, bogus)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    # Control: a default requests session does use the environment and fails on the bogus proxy.
    with pytest.raises(requests.exceptions.ProxyError):
        requests.get(server.url("/control"), timeout=2)
    with RequestsTransport(timeout=3) as t:
        assert t.send(get(server.url("/direct"))).status == 200
    assert len(server.hits("/direct")) == 1
    assert server.hits("/direct")[0].raw_path == "/direct"  # origin-form: not via a proxy


def test_explicit_proxies_are_used(server: ScriptedServer) -> None:
    # The scripted server plays the proxy: it receives the absolute URL as the request target.
    with RequestsTransport(timeout=3, proxies={"http": server.url("")}) as t:
        response = t.send(get("http://graph.example.invalid/v1.0/me"))
    assert response.status == 200
    assert server.seen[0].raw_path == "http://graph.example.invalid/v1.0/me"


def test_connection_refused_is_a_connection_failure_naming_the_host(closed_port: int) -> None:
    with RequestsTransport(timeout=3) as t, pytest.raises(ConnectionFailed) as info:
        t.send(get(f"http://127.0.0.1:{closed_port}/x"))
    assert info.value.status == 503 and info.value.retry_after == 5  # DESIGN.md: down or refusing: try again
    assert f"127.0.0.1:{closed_port}" in str(info.value)
    assert "connection refused" in str(info.value)
    assert isinstance(info.value.__cause__, requests.ConnectionError)


def test_error_messages_hold_no_query_string_form_or_userinfo(closed_port: int) -> None:
    secret = "SECRET-" + uuid.uuid4().hex
    request = HttpRequest(
        method="POST",
        url=f"http://user:{secret}@127.0.0.1:{closed_port}/tenant/oauth2/token?code={secret}#frag-{secret}",
        form={"client_secret": secret},
    )
    with RequestsTransport(timeout=3) as t, pytest.raises(TransportError) as info:
        t.send(request)
    message = str(info.value)
    assert secret not in message
    assert message.startswith(f"POST http://127.0.0.1:{closed_port}/tenant/oauth2/token:")


def test_header_with_line_break_is_refused_before_sending(server: ScriptedServer, transport: RequestsTransport) -> None:
    with pytest.raises(TransportError, match="line break"):
        transport.send(get(server.url("/inj"), **{"X-A": "1\r\nX-Injected: yes"}))
    assert server.seen == []


def test_invalid_url_is_a_transport_error(transport: RequestsTransport) -> None:
    with pytest.raises(TransportError) as info:
        transport.send(get("http://exa mple.invalid:99999/"))
    assert not isinstance(info.value, ConnectionFailed) and info.value.status == 502  # trying again cannot help


def test_a_server_that_closes_without_answering_is_a_connection_failure() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def hang_up() -> None:
            conn, _ = listener.accept()
            conn.recv(65536)
            conn.close()

        thread = threading.Thread(target=hang_up, daemon=True)
        thread.start()
        with RequestsTransport(timeout=3) as t, pytest.raises(ConnectionFailed, match="without answering"):
            t.send(get(f"http://127.0.0.1:{listener.getsockname()[1]}/x"))
        thread.join(timeout=5)


def test_concurrent_sends_from_many_threads(server: ScriptedServer) -> None:
    results: dict[str, str] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        try:
            for i in range(5):
                rid = f"t{n}-{i}"
                response = t.send(get(server.url("/c"), **{"client-request-id": rid}))
                with lock:
                    results[rid] = response.headers["client-request-id"]
        except BaseException as exc:
            errors.append(exc)

    with RequestsTransport(timeout=5) as t:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=20)
    assert errors == []
    assert len(results) == 80
    assert all(k == v for k, v in results.items())  # every answer went to the thread that asked
    assert len({s.client_port for s in server.hits("/c")}) <= 16


def test_closed_transport_refuses_to_send(server: ScriptedServer) -> None:
    t = RequestsTransport(timeout=3)
    t.close()
    with pytest.raises(RuntimeError):
        t.send(get(server.url("/x")))


def test_json_helper_sanity(server: ScriptedServer, transport: RequestsTransport) -> None:
    server.routes["/j"] = lambda h: h.send_body(200, json.dumps({"v": "3599"}).encode())
    assert transport.send(get(server.url("/j"))).json_object("j") == {"v": "3599"}
