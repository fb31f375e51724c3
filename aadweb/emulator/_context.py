"""What every endpoint handler gets: the request, the diagnostics, the resolved tenant."""

from __future__ import annotations

from dataclasses import dataclass

from werkzeug.wrappers import Request

from ._errors import Diag
from ._model import TenantScope

__all__ = ["Call"]


@dataclass(frozen=True, slots=True)
class Call:
    request: Request
    diag: Diag
    base_url: str
    segment: str
    scope: TenantScope | None
    #: The endpoint's version: "1.0" (``/oauth2/...``) or "2.0" (``/oauth2/v2.0/...``).
    version: str = "1.0"

    @property
    def v2(self) -> bool:
        return self.version == "2.0"

    @property
    def now(self) -> float:
        return self.diag.now

    @property
    def ipaddr(self) -> str:
        return self.request.remote_addr or "127.0.0.1"
