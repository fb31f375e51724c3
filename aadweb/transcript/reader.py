"""Reading a wire transcript back: records sorted by when their leg started, grouped by flow."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from pathlib import Path

from aadweb.transcript.schema import TranscriptRecord, parse_record

__all__ = ["Loaded", "group_flows", "pick_flow", "read_file", "read_records", "sort_key", "tail_flow"]


@dataclasses.dataclass(frozen=True, slots=True)
class Loaded:
    """Records read from a transcript (sorted by :func:`sort_key`) and how many lines were not."""

    records: list[TranscriptRecord]
    skipped: int


def sort_key(record: TranscriptRecord) -> tuple[float, int, int]:
    return (float(record.ts or 0.0), record.pid or 0, record.seq or 0)


def read_records(lines: Iterable[str], *, flow: str | None = None) -> Loaded:
    """Parse JSON Lines; keep records of ``flow`` (all when None); sorted by start time.

    A line that is not JSON, or not a record (:func:`~aadweb.transcript.schema.parse_record`), is
    skipped and counted: a transcript may be hand-edited."""
    records: list[TranscriptRecord] = []
    skipped = 0
    for line in lines:
        if not line.strip():
            continue
        if flow is not None and flow not in line:
            continue
        try:
            record = parse_record(json.loads(line))
        except (ValueError, RecursionError):  # InvalidRecord is a ValueError, as is bad JSON
            skipped += 1
            continue
        if flow is None or record.flow == flow:
            records.append(record)
    records.sort(key=sort_key)
    return Loaded(records, skipped)


def tail_flow(path: str | os.PathLike[str], flow: str, *,
              max_bytes: int = 8 * 1024 * 1024) -> list[TranscriptRecord]:
    """The records of ``flow`` among the last ``max_bytes`` of the file (for the transcript page)."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            start = max(0, size - max_bytes)
            fh.seek(start)
            data = fh.read(max_bytes)
    except OSError:
        return []
    if start > 0:
        data = data[data.find(b"\n") + 1:]  # the first line is cut: drop it
    return read_records(data.decode("utf-8", "replace").splitlines(), flow=flow).records


def group_flows(records: Iterable[TranscriptRecord]) -> dict[str | None, list[TranscriptRecord]]:
    """Records by flow, flows in the order they started (records keep their order)."""
    flows: dict[str | None, list[TranscriptRecord]] = {}
    for record in sorted(records, key=sort_key):
        flows.setdefault(record.flow, []).append(record)
    return flows


def pick_flow(records: Iterable[TranscriptRecord], wanted: str) -> str | None:
    """The flow id ``wanted`` names: itself, or the one flow it is a prefix of (None otherwise)."""
    flows = {r.flow for r in records if r.flow is not None}
    if wanted in flows:
        return wanted
    matches = [f for f in flows if f.startswith(wanted)]
    return matches[0] if len(matches) == 1 else None


def read_file(path: str | os.PathLike[str], *, flow: str | None = None) -> Loaded:
    with Path(path).open(encoding="utf-8", errors="replace") as fh:
        return read_records(fh, flow=flow)
