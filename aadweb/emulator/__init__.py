"""A local Azure AD v1 authority and Microsoft Graph, for development and tests.

An independent oracle: it shares no code with the aadweb client (it never imports
``aadweb.protocol``, ``aadweb.transport``, ``aadweb.transcript``, ``aadweb.authority`` or ``aadweb.graph``), so a
protocol bug cannot hide on both sides. See DESIGN.md, "Emulator"::

    emu = Emulator()                                 # demo tenants, users and app
    with EmulatorServer(emu) as srv:                 # loopback, free port, daemon thread
        authority = f"{srv.url}/{DEMO_TENANT_ID}"
        emu.faults.add(Fault(kind="error", endpoint="token", aadsts=70008, times=1))
"""

from __future__ import annotations

from ._app import Emulator, SeenRequest
from ._cli import main
from ._faults import Fault, FaultSet
from ._model import (
    DEMO_CLIENT,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REDIRECT_URIS,
    DEMO_TENANT_DOMAIN,
    DEMO_TENANT_ID,
    DEMO_TENANTS,
    DEMO_USERS,
    FABRIKAM_TENANT_DOMAIN,
    FABRIKAM_TENANT_ID,
    FABRIKAM_USERS,
    GRAPH_RESOURCE,
    ClientRegistration,
    DemoUser,
    Tenant,
)
from ._server import EmulatorServer

__all__ = [
    "DEMO_CLIENT",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_REDIRECT_URIS",
    "DEMO_TENANTS",
    "DEMO_TENANT_DOMAIN",
    "DEMO_TENANT_ID",
    "DEMO_USERS",
    "FABRIKAM_TENANT_DOMAIN",
    "FABRIKAM_TENANT_ID",
    "FABRIKAM_USERS",
    "GRAPH_RESOURCE",
    "ClientRegistration",
    "DemoUser",
    "Emulator",
    "EmulatorServer",
    "Fault",
    "FaultSet",
    "SeenRequest",
    "Tenant",
    "main",
]
