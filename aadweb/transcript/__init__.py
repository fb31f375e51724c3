"""The wire transcript (DESIGN.md, "Wire transcript"): every leg of a sign-in as one JSON Lines
record, secrets fingerprinted, personal values withheld.

* :mod:`~aadweb.transcript.writer`: :class:`Transcript` writes records (whole lines, under
  ``flock``, across threads, workers and forks);
* :mod:`~aadweb.transcript.allowlist`: what may be shown in clear, by where a value appears;
* :mod:`~aadweb.transcript.redact`: the redaction that applies those allowlists;
* :mod:`~aadweb.transcript.schema`: the record, typed, and :func:`parse_record`, the one reading of it;
* :mod:`~aadweb.transcript.records`: the pieces the writer builds a record from;
* :mod:`~aadweb.transcript.reader`: reading a file back, grouping by flow;
* :mod:`~aadweb.transcript.render`: the text a person reads (``aadweb wire``);
* :mod:`~aadweb.transcript.har`: HAR 1.2 export;
* :mod:`~aadweb.transcript.diagram`: the sequence diagram's data (the ``/_aadweb/wire`` page draws it).
"""

from __future__ import annotations

from aadweb.transcript.reader import Loaded, read_file, read_records
from aadweb.transcript.records import Record
from aadweb.transcript.schema import InvalidRecord, TranscriptRecord, parse_record
from aadweb.transcript.writer import Transcript

__all__ = ["InvalidRecord", "Loaded", "Record", "Transcript", "TranscriptRecord", "parse_record", "read_file",
           "read_records"]
