"""The overall deadline and the body cap of RequestsTransport, against hostile loopback servers.

The deadline tests measure wall time with ``time.monotonic``: the watchdog must cut a dripping
server off within a small margin of the deadline, not merely after each slow ``recv``.
"""

from __future__ import annotations

import gzip
import io
import os
import time
import tracemalloc
import zlib

import pytest

from aadweb.errors import DeadlineExceeded, TransportError
from aadweb.protocol.http import HttpRequest
from aadweb.transport.network import RequestsTransport
from tests.transport.scripted import MARGIN, Handler, ScriptedServer, Stopwatch, drip_body, drip_headers, slow_headers

MiB = 1 << 20


def get(url: str) -> HttpRequest:
    return HttpRequest(method="GET", url=url)


# --- the overall deadline -------------------------------------------------------------------


@pytest.mark.timeout(15)
def test_one_byte_per_second_body_is_cut_off_at_the_deadline(server: ScriptedServer) -> None:
    server.routes["/drip"] = drip_body(1.0)
    with RequestsTransport(timeout=2.0) as t:
        watch = Stopwatch()
        with pytest.raises(DeadlineExceeded):
            t.send(get(server.url("/drip")))
        elapsed = watch.elapsed
    assert 2.0 - 0.05 <= elapsed < 2.0 + MARGIN


@pytest.mark.timeout(15)
def test_fast_drip_that_never_trips_a_read_timeout_is_still_cut_off(server: ScriptedServer) -> None:
    # A byte every 0.1 s: every single recv() finishes well inside the 1 s read timeout.
    server.routes["/drip"] = drip_body(0.1)
    with RequestsTransport(timeout=1.0) as t:
        watch = Stopwatch()
        with pytest.raises(DeadlineExceeded, match=r"within 1\.0 s"):
            t.send(get(server.url("/drip")))
    assert watch.elapsed < 1.0 + MARGIN


@pytest.mark.timeout(15)
def test_dripping_body_of_a_connection_close_answer_is_cut_off(server: ScriptedServer) -> None:
    server.routes["/drip"] = drip_body(0.1, close=True)
    with RequestsTransport(timeout=1.0) as t:
        t.send(get(server.url("/warm")))  # a pooled keep-alive connection is reused for the drip
        watch = Stopwatch()
        with pytest.raises(DeadlineExceeded):
            t.send(get(server.url("/drip")))
    assert watch.elapsed < 1.0 + MARGIN


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_connection_close_answers_leak_no_descriptors(server: ScriptedServer) -> None:
    def close_after(h: Handler) -> None:
        h.close_connection = True
        h.send_body(200, b"{}", {"Content-Type": "application/json", "Connection": "close"})

    server.routes["/close"] = close_after
    with RequestsTransport(timeout=3) as t:
        t.send(get(server.url("/close")))
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(30):
            assert t.send(get(server.url("/close"))).status == 200
        after = len(os.listdir("/proc/self/fd"))
    assert after - before <= 2


@pytest.mark.timeout(15)
def test_dripping_headers_are_cut_off_at_the_deadline(server: ScriptedServer) -> None:
    server.routes["/hdr"] = drip_headers(0.1)
    with RequestsTransport(timeout=1.0) as t:
        watch = Stopwatch()
        with pytest.raises(DeadlineExceeded):
            t.send(get(server.url("/hdr")))
    assert watch.elapsed < 1.0 + MARGIN


@pytest.mark.timeout(15)
def test_server_slow_to_send_headers_hits_the_deadline(server: ScriptedServer) -> None:
    server.routes["/slow"] = slow_headers(5.0)
    with RequestsTransport(timeout=1.0) as t:
        watch = Stopwatch()
        with pytest.raises(DeadlineExceeded):
            t.send(get(server.url("/slow")))
    assert watch.elapsed < 1.0 + MARGIN


@pytest.mark.timeout(15)
def test_explicit_deadline_earlier_than_the_timeout_wins(server: ScriptedServer) -> None:
    server.routes["/drip"] = drip_body(0.1)
    with RequestsTransport(timeout=10.0) as t:
        watch = Stopwatch()
        with pytest.raises(DeadlineExceeded):
            t.send(get(server.url("/drip")), deadline=time.monotonic() + 0.5)
    assert watch.elapsed < 0.5 + MARGIN


def test_deadline_already_passed_sends_nothing(server: ScriptedServer, transport: RequestsTransport) -> None:
    with pytest.raises(DeadlineExceeded, match="before sending"):
        transport.send(get(server.url("/x")), deadline=time.monotonic() - 1)
    assert server.seen == []


def test_deadline_checked_between_body_chunks_with_the_injected_clock(server: ScriptedServer) -> None:
    ticks = iter([0.0, 0.1])  # start, then the first chunk arrives "after" the 5 s timeout

    def clock() -> float:
        return next(ticks, 100.0)

    server.routes["/big"] = lambda h: h.send_body(200, b"x" * 50_000)
    with RequestsTransport(timeout=5.0, clock=clock) as t, pytest.raises(DeadlineExceeded):
        t.send(get(server.url("/big")))


@pytest.mark.timeout(15)
def test_connection_cut_at_the_deadline_is_not_reused(server: ScriptedServer) -> None:
    server.routes["/drip"] = drip_body(0.1)
    with RequestsTransport(timeout=0.5) as t:
        assert t.send(get(server.url("/ok"))).status == 200
        with pytest.raises(DeadlineExceeded):
            t.send(get(server.url("/drip")))
        assert t.send(get(server.url("/ok"))).status == 200
    first, second = (s.client_port for s in server.hits("/ok"))
    assert server.hits("/drip")[0].client_port == first
    assert second != first


# --- the body cap ---------------------------------------------------------------------------


def test_body_at_the_cap_is_accepted_and_one_byte_more_refused(server: ScriptedServer) -> None:
    server.routes["/at"] = lambda h: h.send_body(200, b"a" * 1000)
    server.routes["/over"] = lambda h: h.send_body(200, b"a" * 1001)
    with RequestsTransport(timeout=3, max_body=1000) as t:
        assert len(t.send(get(server.url("/at"))).body) == 1000
        with pytest.raises(TransportError, match="larger than 1000 bytes"):
            t.send(get(server.url("/over")))


def test_declared_content_length_over_the_cap_is_refused_before_reading(server: ScriptedServer) -> None:
    def declares_5_mib_then_stalls(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(5 * MiB))
        h.end_headers()
        h.wait(10)  # reading even one body byte would hang until the deadline

    server.routes["/huge"] = declares_5_mib_then_stalls
    with RequestsTransport(timeout=5) as t:
        watch = Stopwatch()
        with pytest.raises(TransportError, match="Content-Length 5242880") as info:
            t.send(get(server.url("/huge")))
    assert not isinstance(info.value, DeadlineExceeded)
    assert watch.elapsed < 1.0


@pytest.mark.timeout(15)
def test_huge_body_with_content_length_is_refused(server: ScriptedServer, transport: RequestsTransport) -> None:
    server.routes["/huge"] = lambda h: h.send_body(200, b"x" * (5 * MiB))
    with pytest.raises(TransportError, match="larger than 1048576 bytes"):
        transport.send(get(server.url("/huge")))


@pytest.mark.timeout(15)
def test_chunked_body_without_length_is_refused_once_over_the_cap(server: ScriptedServer) -> None:
    def chunked_2_mib_then_stalls(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        piece = b"y" * 65536
        for _ in range(32):  # 2 MiB, then silence: only a cap that counts as it reads ends this early
            h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        h.wait(10)

    server.routes["/chunked"] = chunked_2_mib_then_stalls
    with RequestsTransport(timeout=5) as t:
        watch = Stopwatch()
        with pytest.raises(TransportError, match="larger than") as info:
            t.send(get(server.url("/chunked")))
    assert not isinstance(info.value, DeadlineExceeded)
    assert watch.elapsed < 2.0


def _gzip_of_zeros(size: int) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as gz:
        block = bytes(MiB)
        for _ in range(size // MiB):
            gz.write(block)
    return out.getvalue()


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    bomb = _gzip_of_zeros(50 * MiB)
    assert len(bomb) < 100_000
    return bomb


@pytest.mark.timeout(15)
def test_gzip_bomb_is_refused_without_inflating_it(server: ScriptedServer, gzip_bomb: bytes) -> None:
    server.routes["/bomb"] = lambda h: h.send_body(
        200, gzip_bomb, {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    with RequestsTransport(timeout=5) as t:
        watch = Stopwatch()
        tracemalloc.start()
        try:
            with pytest.raises(TransportError, match="larger than 1048576 bytes"):
                t.send(get(server.url("/bomb")))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert watch.elapsed < 2.0
    assert peak < 20 * MiB  # the 50 MiB were never held


def test_gzip_body_under_the_cap_is_decoded(server: ScriptedServer, transport: RequestsTransport) -> None:
    body = b'{"displayName": "Ada"}'
    server.routes["/gz"] = lambda h: h.send_body(200, gzip.compress(body), {"Content-Encoding": "gzip"})
    assert transport.send(get(server.url("/gz"))).body == body


def test_corrupt_gzip_is_a_transport_error(server: ScriptedServer, transport: RequestsTransport) -> None:
    server.routes["/bad"] = lambda h: h.send_body(200, b"not gzip at all", {"Content-Encoding": "gzip"})
    with pytest.raises(TransportError, match="could not be decoded"):
        transport.send(get(server.url("/bad")))


def test_deflate_bomb_is_refused(server: ScriptedServer) -> None:
    bomb = zlib.compress(bytes(8 * MiB), 9)
    server.routes["/deflate"] = lambda h: h.send_body(200, bomb, {"Content-Encoding": "deflate"})
    with RequestsTransport(timeout=5, max_body=MiB) as t, pytest.raises(TransportError, match="larger than"):
        t.send(get(server.url("/deflate")))


@pytest.mark.timeout(20)
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_gets_a_fresh_pool_and_a_working_watchdog(server: ScriptedServer) -> None:
    server.routes["/drip"] = drip_body(0.1)
    with RequestsTransport(timeout=1.0) as t:
        assert t.send(get(server.url("/parent"))).status == 200  # pool and watchdog now exist
        pid = os.fork()
        if pid == 0:  # the child: report through the exit status only
            code = 1
            try:
                ok = t.send(get(server.url("/child"))).status == 200
                watch = Stopwatch()
                try:
                    t.send(get(server.url("/drip")))
                except DeadlineExceeded:
                    ok = ok and watch.elapsed < 1.0 + MARGIN
                else:
                    ok = False
                code = 0 if ok else 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert t.send(get(server.url("/parent"))).status == 200
    parent_ports = {s.client_port for s in server.hits("/parent")}
    assert len(parent_ports) == 1  # the parent's pooled connection was left alone by the child
    assert server.hits("/child")[0].client_port not in parent_ports
