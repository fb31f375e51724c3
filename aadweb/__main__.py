"""``python -m aadweb``: the command line (see :mod:`aadweb.cli`)."""

from __future__ import annotations

from aadweb.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
