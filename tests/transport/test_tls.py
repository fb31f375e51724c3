"""RequestsTransport over loopback TLS: verification, pooling and the deadline with TLS sockets."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aadweb.errors import ConnectionFailed, DeadlineExceeded, TransportError
from aadweb.protocol.http import HttpRequest
from aadweb.transport.network import RequestsTransport
from tests.transport.scripted import MARGIN, ScriptedServer, Stopwatch, drip_body, drip_headers
from tests.transport.tls import Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_server(pki: Pki) -> Iterator[ScriptedServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pki.cert_pem), str(pki.key_pem))
    scripted = ScriptedServer(tls=context)
    try:
        yield scripted
    finally:
        scripted.close()


def get(url: str) -> HttpRequest:
    return HttpRequest(method="GET", url=url)


def test_https_with_the_given_ca_bundle_and_keep_alive(tls_server: ScriptedServer, pki: Pki) -> None:
    with RequestsTransport(timeout=5, ca_bundle=str(pki.ca_pem)) as t:
        for _ in range(3):
            assert t.send(get(tls_server.url("/me"))).status == 200
    assert len({s.client_port for s in tls_server.hits("/me")}) == 1


def test_untrusted_certificate_is_a_transport_error(tls_server: ScriptedServer) -> None:
    with RequestsTransport(timeout=5) as t, pytest.raises(TransportError) as info:
        t.send(get(tls_server.url("/me")))
    assert not isinstance(info.value, DeadlineExceeded | ConnectionFailed)  # 502: trying again cannot help
    assert "TLS certificate verification failed" in str(info.value)
    assert tls_server.seen == []


def test_missing_ca_bundle_file_is_refused_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a file"):
        RequestsTransport(ca_bundle=str(tmp_path / "nope.pem"))


@pytest.mark.timeout(15)
def test_dripping_tls_body_is_cut_off_at_the_deadline(tls_server: ScriptedServer, pki: Pki) -> None:
    tls_server.routes["/drip"] = drip_body(0.1)
    with RequestsTransport(timeout=1.0, ca_bundle=str(pki.ca_pem)) as t:
        watch = Stopwatch()
        with pytest.raises(DeadlineExceeded):
            t.send(get(tls_server.url("/drip")))
    assert watch.elapsed < 1.0 + MARGIN


@pytest.mark.timeout(15)
def test_dripping_tls_headers_are_cut_off_at_the_deadline(tls_server: ScriptedServer, pki: Pki) -> None:
    tls_server.routes["/hdr"] = drip_headers(0.1)
    with RequestsTransport(timeout=1.0, ca_bundle=str(pki.ca_pem)) as t:
        watch = Stopwatch()
        with pytest.raises(DeadlineExceeded):
            t.send(get(tls_server.url("/hdr")))
    assert watch.elapsed < 1.0 + MARGIN


def tcp_listener(greeting: bytes = b"", drip_interval: float | None = None) -> Iterator[int]:
    """Accepts TCP connections; sends ``greeting``, then (if asked) one byte per interval."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    stop = threading.Event()
    accepted: list[socket.socket] = []

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            accepted.append(conn)
            threading.Thread(target=talk, args=(conn,), daemon=True).start()

    def talk(conn: socket.socket) -> None:
        try:
            conn.sendall(greeting)
            while drip_interval is not None and not stop.wait(drip_interval):
                conn.sendall(b"\x00")
        except OSError:
            pass

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in accepted:
            conn.close()
        listener.close()


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A TLS handshake that never gets an answer."""
    yield from tcp_listener()


@pytest.fixture
def dripping_handshake_listener() -> Iterator[int]:
    """Announces a 16 KiB TLS handshake record, then sends it a byte every 0.1 s."""
    yield from tcp_listener(greeting=b"\x16\x03\x03\x40\x00", drip_interval=0.1)


@pytest.mark.timeout(15)
def test_dripping_tls_handshake_is_cut_off_at_the_deadline(dripping_handshake_listener: int) -> None:
    # Every recv() of the handshake returns within 0.1 s. Both the watchdog and CPython's own
    # handshake deadline (the socket timeout, here the remaining time) end this.
    with RequestsTransport(timeout=1.0) as t:
        watch = Stopwatch()
        with pytest.raises(DeadlineExceeded):
            t.send(get(f"https://127.0.0.1:{dripping_handshake_listener}/x"))
    assert watch.elapsed < 1.0 + MARGIN


@pytest.mark.timeout(15)
def test_stalled_tls_handshake_hits_the_deadline(silent_listener: int) -> None:
    with RequestsTransport(timeout=1.0) as t:
        watch = Stopwatch()
        with pytest.raises(DeadlineExceeded):
            t.send(get(f"https://127.0.0.1:{silent_listener}/x"))
    assert watch.elapsed < 1.0 + MARGIN
