"""A local Azure AD authority (v1.0 and v2.0) and Microsoft Graph, for development and tests.

An independent oracle: it shares no code with the aadweb client (it never imports
``aadweb.protocol``, ``aadweb.transport``, ``aadweb.transcript``, ``aadweb.authority`` or ``aadweb.graph``), so a
protocol bug cannot hide on both sides. See DESIGN.md, "Emulator"::

    emu = Emulator()                                 # demo tenants, users and app
    with EmulatorServer(emu) as srv:                 # loopback, free port, daemon thread
        authority = f"{srv.url}/{DEMO_TENANT_ID}"
        emu.faults.add(Fault(kind="error", endpoint="token", aadsts=70008, times=1))

    with EmulatorServer(emu, tls=True) as srv:       # https; trust srv.ca_file
        v2_metadata = f"{srv.url}/{DEMO_TENANT_ID}/v2.0/.well-known/openid-configuration"

App roles, groups (with group overage) and consent, for the gate's tests::

    emu.assign_app_role(DEMO_CLIENT_ID, "adele.vance@contoso.example", "Admin")
    emu.set_group_membership_claims(DEMO_CLIENT_ID, "SecurityGroup")
    emu.set_overage_limits(front=1, back=1)          # Adele's two groups overflow both
    emu.grant_consent(DEMO_CLIENT_ID, DEMO_REPORTS_RESOURCE)   # or revoke_consent(...)
"""

from __future__ import annotations

from ._app import Emulator, SeenRequest
from ._cli import main
from ._faults import Fault, FaultSet
from ._graph_apps import AppObject
from ._groups import DEMO_GROUPS, DEMO_MEMBERSHIPS, Group, OverageLimits
from ._model import (
    DEMO_API,
    DEMO_API_RESOURCE,
    DEMO_CLIENT,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REDIRECT_URIS,
    DEMO_REPORTS_API,
    DEMO_REPORTS_RESOURCE,
    DEMO_TENANT_DOMAIN,
    DEMO_TENANT_ID,
    DEMO_TENANTS,
    DEMO_USERS,
    FABRIKAM_TENANT_DOMAIN,
    FABRIKAM_TENANT_ID,
    FABRIKAM_USERS,
    GRAPH_RESOURCE,
    REGISTER_TOOL_CLIENT_ID,
    UNCONSENTED_BY_DEFAULT,
    ClientRegistration,
    DemoUser,
    Tenant,
)
from ._server import EmulatorServer
from ._tls import TlsFiles

__all__ = [
    "DEMO_API",
    "DEMO_API_RESOURCE",
    "DEMO_CLIENT",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_GROUPS",
    "DEMO_MEMBERSHIPS",
    "DEMO_REDIRECT_URIS",
    "DEMO_REPORTS_API",
    "DEMO_REPORTS_RESOURCE",
    "DEMO_TENANTS",
    "DEMO_TENANT_DOMAIN",
    "DEMO_TENANT_ID",
    "DEMO_USERS",
    "FABRIKAM_TENANT_DOMAIN",
    "FABRIKAM_TENANT_ID",
    "FABRIKAM_USERS",
    "GRAPH_RESOURCE",
    "REGISTER_TOOL_CLIENT_ID",
    "UNCONSENTED_BY_DEFAULT",
    "AppObject",
    "ClientRegistration",
    "DemoUser",
    "Emulator",
    "EmulatorServer",
    "Fault",
    "FaultSet",
    "Group",
    "OverageLimits",
    "SeenRequest",
    "Tenant",
    "TlsFiles",
    "main",
]
