"""The loopback rule: which hosts may be reached over plain ``http://``.

Everything aadweb sends to the authority or to Graph goes over TLS, with one exception: a
loopback host (the emulator, tests), where the traffic never leaves the machine. RFC 8252 8.3
names ``127.0.0.1`` and ``[::1]`` as the loopback addresses and notes that ``localhost`` is
resolved by the machine itself; RFC 6761 6.3 reserves ``localhost`` and its subdomains for it.
The settings (``AADWEB_AUTHORITY_HOST``, ``AADWEB_GRAPH_URL``), the metadata's endpoints and the
wire view all use this one rule.
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback_host"]


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1: the only hosts allowed over plain http."""
    host = host.strip("[]").lower()
    # RFC 6761 6.3: localhost and names under .localhost resolve to loopback
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
