"""``aadweb wire FILE``: the transcript for people, one sign-in with --flow, HAR 1.2 with --har,
the records themselves with --json; colour only on a terminal without NO_COLOR."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from aadweb.cli import main
from aadweb.emulator import Emulator
from tests.transcript.transcript_helpers import HYBRID_LEGS, assert_no_secrets, records, secrets_sent, visit
from tests.web.conftest import Served, serve  # noqa: F401 - the fixture, shared with tests/web


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def two_sign_ins(serve: Callable[..., Served], emulator: Emulator, tmp_path: Path) -> tuple[Path, set[str]]:  # noqa: F811
    path = tmp_path / "wire.jsonl"
    served = serve(wire_log=str(path))
    browsers = [visit(served), visit(served)]
    return path, secrets_sent(emulator, served, browsers)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_prints_each_leg_in_order_with_the_verdicts(two_sign_ins: tuple[Path, set[str]],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path, secrets = two_sign_ins
    status, out, err = _run(["wire", str(path)], capsys)
    assert status == 0 and err == ""
    assert out.count("\u2550\u2550 flow ") == 2 and "\033[" not in out  # not a terminal: no colour
    first = out.split("\u2550\u2550 flow ")[1]
    positions = [first.index(f"  {leg}  ") for leg in HYBRID_LEGS]
    assert positions == sorted(positions)
    assert "PASS  nonce" in first and "PASS  c_hash" in first and "OIDC 3.1.3.7 (11)" in first
    assert "code=\u00abcode:" in first and "client_secret=\u00abclient_secret:" in first
    assert "POST http://127.0.0.1:" in first and "< 200 OK" in first
    assert_no_secrets(out, secrets)


def test_flow_picks_one_sign_in_by_a_prefix(two_sign_ins: tuple[Path, set[str]],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = two_sign_ins
    flows = list(dict.fromkeys(r["flow"] for r in records(path)))
    status, out, _ = _run(["wire", str(path), "--flow", flows[1][:6]], capsys)
    assert status == 0 and out.count("\u2550\u2550 flow ") == 1 and f"flow {flows[1]}" in out
    status, _, err = _run(["wire", str(path), "--flow", "nope"], capsys)
    assert status == 1 and "no single flow 'nope'" in err and flows[0] in err


def test_json_passes_the_records_through(two_sign_ins: tuple[Path, set[str]],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = two_sign_ins
    status, out, _ = _run(["wire", str(path), "--json"], capsys)
    assert status == 0
    assert [json.loads(line) for line in out.splitlines()] == records(path)


def test_har_exports_entries_browsers_can_open(two_sign_ins: tuple[Path, set[str]], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path, secrets = two_sign_ins
    har_path = tmp_path / "out.har"
    flow = records(path)[0]["flow"]
    status, out, _ = _run(["wire", str(path), "--flow", flow, "--har", str(har_path)], capsys)
    assert status == 0 and "HTTP exchanges of 1 sign-ins written to" in out
    log = json.loads(har_path.read_text(encoding="utf-8"))["log"]
    assert log["version"] == "1.2" and len(log["pages"]) == 1
    recs = [r for r in records(path) if r["flow"] == flow]
    assert len(log["entries"]) == sum(1 for r in recs if r["request"] is not None)
    assert all(e["pageref"] == flow for e in log["entries"])
    assert_no_secrets(har_path.read_text(encoding="utf-8"), secrets)


def test_colour_on_a_terminal_unless_no_color(two_sign_ins: tuple[Path, set[str]],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = two_sign_ins
    monkeypatch.delenv("NO_COLOR", raising=False)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["wire", str(path)]) == 0
    text = terminal.getvalue()
    assert "\033[32mPASS\033[0m" in text and "\033[35m\u00abcode:" in text
    monkeypatch.setenv("NO_COLOR", "1")
    plain = Terminal()
    monkeypatch.setattr(sys, "stdout", plain)
    assert main(["wire", str(path)]) == 0
    assert "\033[" not in plain.getvalue() and "PASS  nonce" in plain.getvalue()


def test_a_missing_file_or_junk_lines_are_said_plainly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(["wire", str(tmp_path / "none.jsonl")], capsys)
    assert status == 1 and "cannot read" in err
    junk = tmp_path / "junk.jsonl"
    junk.write_text('not json\n{"leg": "login", "flow": "f", "ts": 1.0}\n')
    status, out, err = _run(["wire", str(junk)], capsys)
    assert status == 0 and "1 lines are not transcript records" in err and "login" in out


def test_the_console_script_reads_standard_input(two_sign_ins: tuple[Path, set[str]]) -> None:
    path, _ = two_sign_ins
    proc = subprocess.run([sys.executable, "-m", "aadweb", "wire", "-", "--json"], input=path.read_text(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == len(records(path))


def test_har_export_skips_a_hand_edited_record_of_the_wrong_shape(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "wire.jsonl"
    record = {"v": 1, "ts": 1.0, "time": "2026-11-24T00:00:00Z", "pid": 1, "seq": 1, "flow": "f" * 16, "leg": "token",
              "method": "POST", "url": "https://login.example/t/oauth2/token",
              "request": {"headers": [], "body": None},
              "response": {"status": "two hundred", "headers": [], "body": {"mime": "application/json", "size": "x"}}}
    fine = {**record, "seq": 2, "response": {"status": 200, "headers": [], "body": None}}
    log.write_text(json.dumps(record) + "\n" + json.dumps(fine) + "\n")
    assert main(["wire", str(log), "--har", str(tmp_path / "out.har")]) == 0
    assert "1 lines are not transcript records; skipped" in capsys.readouterr().err
    har = json.loads((tmp_path / "out.har").read_text())
    assert [e["response"]["status"] for e in har["log"]["entries"]] == [200]
