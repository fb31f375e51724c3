"""The wire transcript (DESIGN.md, "Wire transcript"): every leg of a sign-in as one JSON Lines
record, secrets fingerprinted, personal values withheld.

* :mod:`~aadweb.transcript.writer`: :class:`Transcript` writes records (whole lines, under
  ``flock``, across threads, workers and forks);
* :mod:`~aadweb.transcript.redact`: the allowlist redaction (what may be shown in clear);
* :mod:`~aadweb.transcript.records`: the record's shape and its pieces;
* :mod:`~aadweb.transcript.reader`: reading a file back, grouping by flow;
* :mod:`~aadweb.transcript.render`: the text a person reads (``aadweb wire``);
* :mod:`~aadweb.transcript.har`: HAR 1.2 export.
"""

from __future__ import annotations

from aadweb.transcript.reader import Loaded, read_file, read_records
from aadweb.transcript.records import Record
from aadweb.transcript.writer import Transcript

__all__ = ["Loaded", "Record", "Transcript", "read_file", "read_records"]
