"""The national clouds ``AADWEB_CLOUD`` names: where each one's authority and Graph live.

A preset fills what the configuration leaves unset (``AADWEB_AUTHORITY_HOST``,
``AADWEB_GRAPH_URL``, ``AADWEB_RESOURCE``); see :class:`aadweb.settings.Settings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["CLOUDS", "Cloud"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Cloud:
    """A national cloud: where its authority and Graph live, its v1 issuer prefix and the host
    of its v2.0 issuers (``{issuer_v2_host}/{tid}/v2.0``: Microsoft identity platform, national
    clouds; not the authority host when that is overridden, e.g. by the emulator)."""

    name: str
    authority_host: str
    graph_root: str
    issuer_prefix: str
    issuer_v2_host: str


CLOUDS: Final[Mapping[str, Cloud]] = {
    "public": Cloud(
        name="public",
        authority_host="https://login.microsoftonline.com",
        graph_root="https://graph.microsoft.com",
        issuer_prefix="https://sts.windows.net/",
        issuer_v2_host="https://login.microsoftonline.com",
    ),
    "usgov": Cloud(
        name="usgov",
        authority_host="https://login.microsoftonline.us",
        graph_root="https://graph.microsoft.us",
        issuer_prefix="https://sts.windows.net/",
        issuer_v2_host="https://login.microsoftonline.us",
    ),
    "china": Cloud(
        name="china",
        authority_host="https://login.chinacloudapi.cn",
        graph_root="https://microsoftgraph.chinacloudapi.cn",
        issuer_prefix="https://sts.chinacloudapi.cn/",
        issuer_v2_host="https://login.partner.microsoftonline.cn",
    ),
}
