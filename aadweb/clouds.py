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
    """A national cloud: where its authority and Graph live, and its v1 issuer prefix."""

    name: str
    authority_host: str
    graph_root: str
    issuer_prefix: str


CLOUDS: Final[Mapping[str, Cloud]] = {
    "public": Cloud(
        name="public",
        authority_host="https://login.microsoftonline.com",
        graph_root="https://graph.microsoft.com",
        issuer_prefix="https://sts.windows.net/",
    ),
    "usgov": Cloud(
        name="usgov",
        authority_host="https://login.microsoftonline.us",
        graph_root="https://graph.microsoft.us",
        issuer_prefix="https://sts.windows.net/",
    ),
    "china": Cloud(
        name="china",
        authority_host="https://login.chinacloudapi.cn",
        graph_root="https://microsoftgraph.chinacloudapi.cn",
        issuer_prefix="https://sts.chinacloudapi.cn/",
    ),
}
