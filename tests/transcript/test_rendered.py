"""What a person reads of a transcript stays byte-for-byte the same across refactorings (issue 11).

``rendered/<flow>.jsonl`` are the transcripts of one whole golden visit (sign in, Graph, sign
out; the visit of ``test_golden.py``) in each flow, written by the real app. The other files in
``rendered/`` are what the code of the time made of them, captured before the transcript record
became typed: the text of ``aadweb wire`` (plain and in colour), its ``--json`` lines, the HAR
1.2 export and the ``/_aadweb/wire`` page. Reading the same lines back must give the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aadweb.cli import main
from aadweb.transcript.har import to_har
from aadweb.transcript.reader import group_flows, read_file
from aadweb.transcript.render import render
from aadweb.web.wireview import wire_page

RENDERED = Path(__file__).parent / "rendered"
FLOWS = ("code", "hybrid")


def _expected(name: str) -> str:
    return (RENDERED / name).read_text(encoding="utf-8")


def _records(flow: str) -> list:  # type: ignore[type-arg]
    loaded = read_file(RENDERED / f"{flow}.jsonl")
    assert loaded.skipped == 0 and loaded.records
    return loaded.records


@pytest.mark.parametrize("flow", FLOWS)
def test_the_text_of_aadweb_wire_is_unchanged(flow: str) -> None:
    records = _records(flow)
    assert render(records) == _expected(f"{flow}.txt")
    assert render(records, color=True) == _expected(f"{flow}.color.txt")


@pytest.mark.parametrize("flow", FLOWS)
def test_the_har_export_is_unchanged(flow: str) -> None:
    assert json.dumps(to_har(_records(flow)), ensure_ascii=False, indent=1) == _expected(f"{flow}.har.json")


@pytest.mark.parametrize("flow", FLOWS)
def test_the_wire_page_is_unchanged(flow: str) -> None:
    records = _records(flow)
    (flow_id,) = [f for f in group_flows(records) if f]
    page = wire_page(root="/app", flow=flow_id, records=records, css_version="v1")
    assert page == _expected(f"{flow}.wire.html")


@pytest.mark.parametrize("flow", FLOWS)
def test_aadweb_wire_prints_the_same_text_json_lines_and_har(flow: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = str(RENDERED / f"{flow}.jsonl")
    assert main(["wire", path]) == 0
    assert capsys.readouterr().out == _expected(f"{flow}.txt")
    assert main(["wire", path, "--json"]) == 0
    assert capsys.readouterr().out == _expected(f"{flow}.json.txt")
    har = tmp_path / "out.har"
    assert main(["wire", path, "--har", str(har)]) == 0
    assert har.read_text(encoding="utf-8") == _expected(f"{flow}.har.json")
