"""RecordingTransport: every exchange kept as given; it adds no client-request-id of its own."""

from __future__ import annotations

import threading

import pytest

from aadweb.errors import TransportError
from aadweb.protocol.http import HttpRequest, HttpResponse
from aadweb.transport.recording import Exchange, RecordingTransport


class FakeTransport:
    def __init__(self) -> None:
        self.sent: list[HttpRequest] = []

    def send(self, request: HttpRequest, *, deadline: float | None = None) -> HttpResponse:
        self.sent.append(request)
        if request.url.endswith("/fail"):
            raise TransportError("GET http://h:80/fail: connection refused")
        return HttpResponse(status=200, body=b"{}", url=request.url)


def test_records_responses_and_errors_with_elapsed_and_calls_the_hook() -> None:
    ticks = iter([10.0, 10.25, 20.0, 21.0])
    calls: list[tuple[HttpRequest, HttpResponse | None, BaseException | None, float]] = []
    inner = FakeTransport()
    recorder = RecordingTransport(
        inner, on_exchange=lambda *args: calls.append(args), clock=lambda: next(ticks)
    )
    ok = recorder.send(HttpRequest(method="GET", url="http://h/ok"))
    with pytest.raises(TransportError):
        recorder.send(HttpRequest(method="GET", url="http://h/fail", headers={"client-request-id": "given"}))

    first, second = recorder.exchanges
    assert first == Exchange(request=inner.sent[0], response=ok, error=None, elapsed=0.25)
    assert first.request.headers == {}  # a request without a client-request-id is sent without one
    assert second.response is None and isinstance(second.error, TransportError)
    assert second.elapsed == 1.0
    assert second.request.headers == {"client-request-id": "given"}
    assert [(c[0].url, c[3]) for c in calls] == [("http://h/ok", 0.25), ("http://h/fail", 1.0)]


def test_recording_from_many_threads_keeps_every_exchange() -> None:
    recorder = RecordingTransport(FakeTransport())
    threads = [
        threading.Thread(target=lambda: [recorder.send(HttpRequest(method="GET", url="http://h/x")) for _ in range(50)])
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(recorder.exchanges) == 400
    recorder.clear()
    assert recorder.exchanges == []
