"""``python -m aadweb.emulator --port 5001``; see :func:`aadweb.emulator._cli.main`."""

from __future__ import annotations

from ._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
