"""Who exists in the emulated directory: tenants, users and app registrations.

Azure AD keeps these in the tenant's directory; the emulator keeps them in a small
:class:`Directory` object. A tenant is addressed in URLs by its GUID, by a verified
domain, or by the multi-tenant aliases ``common`` and ``organizations`` (Azure AD v1
"Tenant-specific and common endpoints").
"""

from __future__ import annotations

import hashlib
import threading
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ._jws import b64url

__all__ = [
    "DEMO_API",
    "DEMO_API_RESOURCE",
    "DEMO_CLIENT",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_REDIRECT_URIS",
    "DEMO_REPORTS_API",
    "DEMO_REPORTS_RESOURCE",
    "DEMO_TENANT",
    "DEMO_TENANTS",
    "DEMO_TENANT_DOMAIN",
    "DEMO_TENANT_ID",
    "DEMO_USERS",
    "FABRIKAM_TENANT",
    "FABRIKAM_TENANT_DOMAIN",
    "FABRIKAM_TENANT_ID",
    "FABRIKAM_USERS",
    "GRAPH_RESOURCE",
    "GROUP_MEMBERSHIP_CLAIMS",
    "KNOWN_RESOURCES",
    "REGISTER_TOOL_CLIENT",
    "REGISTER_TOOL_CLIENT_ID",
    "UNCONSENTED_BY_DEFAULT",
    "ClientRegistration",
    "DemoUser",
    "Directory",
    "Tenant",
    "TenantScope",
]

GRAPH_RESOURCE = "https://graph.microsoft.com"

#: Resources (v1 App ID URIs) the emulated tenants know, and the delegated scope a token
#: for each carries in ``scp``. A v1 refresh token is multi-resource: it can be redeemed
#: for any of these.
KNOWN_RESOURCES: dict[str, str] = {
    GRAPH_RESOURCE: "User.Read",
    "00000003-0000-0000-c000-000000000000": "User.Read",
    "https://management.azure.com/": "user_impersonation",
    "https://outlook.office365.com": "Mail.Read",
}

_MULTI_TENANT_ALIASES = frozenset({"common", "organizations"})

#: The manifest's ``groupMembershipClaims`` values the emulator knows (None: no claim).
GROUP_MEMBERSHIP_CLAIMS: tuple[str | None, ...] = (None, "SecurityGroup", "All")

#: A second API in the demo tenant, which the demo app is consented to (scope
#: ``access_as_user``), and one it is not consented to until a user consents (scope
#: ``Reports.Read``): asking for a token for it fails with AADSTS65001 until then.
DEMO_API_RESOURCE = "api://aadweb-demo-api"
DEMO_REPORTS_RESOURCE = "api://aadweb-demo-reports"
#: Resources an app registration is not consented to unless it says so
#: (``ClientRegistration.consented_resources``) or a user consents at sign-in.
UNCONSENTED_BY_DEFAULT: frozenset[str] = frozenset({DEMO_REPORTS_RESOURCE})


@dataclass(frozen=True, slots=True, kw_only=True)
class Tenant:
    """A directory: its GUID (the ``tid`` claim) and one verified domain."""

    tenant_id: str
    domain: str
    display_name: str

    def __post_init__(self) -> None:
        if not self.tenant_id or not self.domain:
            raise ValueError("a tenant needs a tenant_id and a domain")


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoUser:
    """A user the sign-in page offers. Field names follow the v1 id_token claims; the
    Graph ``/me`` fields are derived from them (``displayName`` = ``name`` and so on)."""

    oid: str
    tenant_id: str
    upn: str
    name: str
    given_name: str
    family_name: str
    mail: str | None = None
    job_title: str | None = None
    office_location: str | None = None
    business_phones: tuple[str, ...] = ()
    mobile_phone: str | None = None
    preferred_language: str | None = None

    def __post_init__(self) -> None:
        if not self.oid or not self.upn or "@" not in self.upn:
            raise ValueError("a user needs an oid and a upn of the form name@domain")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientRegistration:
    """An app registration (a confidential web app unless it has neither secret nor
    certificate, which makes it a public client).

    ``redirect_uris`` are the reply URLs, matched exactly (AADSTS50011 otherwise).
    ``certificate_pem`` is the public certificate whose key signs ``client_assertion``.
    ``allow_id_tokens`` is the portal's "ID tokens" checkbox: without it a hybrid request
    fails with AADSTS700054. A single-tenant app (``multi_tenant=False``) exists only in
    ``home_tenant_id``; using it on ``/common`` fails with AADSTS50194.

    As a resource (an API others get tokens for): ``app_id_uri`` (the manifest's
    ``identifierUris``; its client id names it too) and ``exposed_scope``, the delegated
    scope its access tokens carry in ``scp``.

    Authorization claims (Azure AD "app roles" and "groups claims"):
    ``app_roles`` are the role values the app defines (manifest ``appRoles[].value``);
    ``role_assignments`` maps a principal (a user's oid, or a group's object id: its
    members get the role) to the role values assigned to it. Tokens issued *for this app*
    (its id_tokens, and access tokens whose audience is this app) carry ``roles`` when
    the user has at least one, and no ``roles`` claim otherwise.
    ``group_membership_claims`` is the manifest's ``groupMembershipClaims``: ``None``
    (Azure's default: no ``groups`` claim), ``"SecurityGroup"`` or ``"All"`` (security
    groups and distribution lists).

    Consent: ``consented_resources`` are the resources (App ID URIs or client ids) the
    app may get tokens for without asking anyone; ``None`` means every resource except
    :data:`UNCONSENTED_BY_DEFAULT`. An app may always get tokens for itself. A user who
    signs in to an authorize request naming another resource consents to it.
    """

    client_id: str
    client_secret: str | None = None
    redirect_uris: tuple[str, ...] = ()
    certificate_pem: str | bytes | None = None
    allow_id_tokens: bool = True
    home_tenant_id: str = ""
    multi_tenant: bool = False
    display_name: str = "aadweb app"
    app_id_uri: str | None = None
    exposed_scope: str = "user_impersonation"
    app_roles: tuple[str, ...] = ()
    role_assignments: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    group_membership_claims: str | None = None
    consented_resources: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ValueError("client_id must not be empty")
        if isinstance(self.redirect_uris, str):
            raise TypeError("redirect_uris must be a sequence of URIs, not one string")
        object.__setattr__(self, "redirect_uris", tuple(self.redirect_uris))
        self._check_authorization()
        if not self.home_tenant_id:
            object.__setattr__(self, "home_tenant_id", DEMO_TENANT_ID)
        if self.certificate_pem is not None:
            self.certificate()  # fail now, not at the first client_assertion

    def _check_authorization(self) -> None:
        for name in ("app_roles", "consented_resources"):
            if isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a collection, not one string")
        object.__setattr__(self, "app_roles", tuple(dict.fromkeys(self.app_roles)))
        assignments: dict[str, tuple[str, ...]] = {}
        for principal, roles in self.role_assignments.items():
            if isinstance(roles, str):
                raise TypeError("role_assignments values must be tuples of role values")
            unknown = set(roles) - set(self.app_roles)
            if unknown:
                raise ValueError(f"roles {sorted(unknown)} are not among app_roles")
            assignments[principal.lower()] = tuple(roles)
        object.__setattr__(self, "role_assignments", types.MappingProxyType(assignments))
        if self.group_membership_claims not in GROUP_MEMBERSHIP_CLAIMS:
            raise ValueError("group_membership_claims must be None, 'SecurityGroup' or 'All'")
        if self.consented_resources is not None:
            object.__setattr__(self, "consented_resources", frozenset(self.consented_resources))

    def roles_for(self, principals: Iterable[str]) -> list[str]:
        """The app roles assigned to any of ``principals`` (a user's oid and the object
        ids of its groups), in the order the app defines them."""
        held: set[str] = set()
        for principal in principals:
            held.update(self.role_assignments.get(principal.lower(), ()))
        return [role for role in self.app_roles if role in held]

    def names(self) -> tuple[str, ...]:
        """The names this app has as a resource: its client id and App ID URI."""
        return (self.client_id, self.app_id_uri) if self.app_id_uri else (self.client_id,)

    @property
    def is_public(self) -> bool:
        return self.client_secret is None and self.certificate_pem is None

    def certificate(self) -> x509.Certificate | None:
        if self.certificate_pem is None:
            return None
        pem = self.certificate_pem
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        return x509.load_pem_x509_certificate(data)

    def thumbprints(self) -> tuple[str, str] | None:
        """(x5t, x5t#S256) of the certificate: base64url SHA-1 and SHA-256 of its DER."""
        cert = self.certificate()
        if cert is None:
            return None
        der = cert.public_bytes(Encoding.DER)
        # RFC 7515 4.1.7: x5t is the SHA-1 thumbprint, by definition
        return b64url(hashlib.sha1(der).digest()), b64url(hashlib.sha256(der).digest())  # noqa: S324


@dataclass(frozen=True, slots=True)
class TenantScope:
    """The ``{tenant}`` path segment, resolved. ``tenant`` is None for common/organizations."""

    segment: str
    tenant: Tenant | None

    @property
    def is_multi(self) -> bool:
        return self.tenant is None

    @property
    def path_name(self) -> str:
        """How Azure names this tenant in the endpoints of its metadata: the GUID for a
        tenant (even when it was addressed by domain), the alias otherwise."""
        return self.tenant.tenant_id if self.tenant else self.segment.lower()


DEMO_TENANT_ID = "6f3c1a52-9b7e-4d2a-8c1f-2a9e5b7d4c10"
DEMO_TENANT_DOMAIN = "contoso.example"
DEMO_TENANT = Tenant(
    tenant_id=DEMO_TENANT_ID, domain=DEMO_TENANT_DOMAIN, display_name="Contoso (emulated)"
)
FABRIKAM_TENANT_ID = "0b7e9a61-2c4d-4e8f-a1b3-c5d7e9f1a3b5"
FABRIKAM_TENANT_DOMAIN = "fabrikam.example"
FABRIKAM_TENANT = Tenant(
    tenant_id=FABRIKAM_TENANT_ID,
    domain=FABRIKAM_TENANT_DOMAIN,
    display_name="Fabrikam (emulated)",
)
DEMO_TENANTS: tuple[Tenant, ...] = (DEMO_TENANT, FABRIKAM_TENANT)

DEMO_CLIENT_ID = "3c9d6b8e-1f2a-4b7c-9d0e-5a6b7c8d9e0f"
DEMO_CLIENT_SECRET = "demo-secret-not-for-production"
DEMO_REDIRECT_URIS: tuple[str, ...] = (
    "http://localhost:5000/getAToken",
    "http://127.0.0.1:5000/getAToken",
)
#: The demo app is multi-tenant so that ``/common`` works out of the box.
DEMO_CLIENT = ClientRegistration(
    client_id=DEMO_CLIENT_ID,
    client_secret=DEMO_CLIENT_SECRET,
    redirect_uris=DEMO_REDIRECT_URIS,
    allow_id_tokens=True,
    home_tenant_id=DEMO_TENANT_ID,
    multi_tenant=True,
    display_name="aadweb demo app",
    app_roles=("Admin", "Reader"),
    role_assignments={
        "d2e3f4a5-b6c7-4d8e-9f0a-1b2c3d4e5f60": ("Admin", "Reader"),  # Megan Bowen
        "5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c": ("Reader",),  # Lee Gu
    },
)
#: The public client ``aadweb register`` signs the admin in with by default: Microsoft Graph
#: PowerShell's well-known client id (multi-tenant, public, device code flow allowed).
REGISTER_TOOL_CLIENT_ID = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
REGISTER_TOOL_CLIENT = ClientRegistration(
    client_id=REGISTER_TOOL_CLIENT_ID,
    redirect_uris=("http://localhost",),
    home_tenant_id=DEMO_TENANT_ID,
    multi_tenant=True,
    display_name="Microsoft Graph Command Line Tools (emulated)",
)
#: The demo API: access tokens for it carry the users' app roles and security groups.
DEMO_API = ClientRegistration(
    client_id="7e2d9c41-6a3b-4f8e-b1d0-2c4e6a8b0d1f",
    home_tenant_id=DEMO_TENANT_ID,
    display_name="aadweb demo API",
    app_id_uri=DEMO_API_RESOURCE,
    exposed_scope="access_as_user",
    app_roles=("Orders.Read", "Orders.Write"),
    role_assignments={
        "8a1f3c2e-5b7d-4e9a-9c1b-2d3e4f5a6b70": ("Orders.Read",),  # Adele Vance
        "d2e3f4a5-b6c7-4d8e-9f0a-1b2c3d4e5f60": ("Orders.Read", "Orders.Write"),  # Megan
    },
    group_membership_claims="SecurityGroup",
)
DEMO_REPORTS_API = ClientRegistration(
    client_id="c4a8e2f6-0b3d-4c7e-9a1f-5d8b2e6c0a4f",
    home_tenant_id=DEMO_TENANT_ID,
    display_name="aadweb demo reports API",
    app_id_uri=DEMO_REPORTS_RESOURCE,
    exposed_scope="Reports.Read",
)


def _contoso(oid: str, first: str, last: str, **extra: str | None) -> DemoUser:
    upn = f"{first.lower()}.{last.lower()}@{DEMO_TENANT_DOMAIN}"
    phone = extra.pop("phone", None)
    return DemoUser(
        oid=oid,
        tenant_id=DEMO_TENANT_ID,
        upn=upn,
        name=f"{first} {last}",
        given_name=first,
        family_name=last,
        mail=upn,
        business_phones=(phone,) if phone else (),
        preferred_language="en-US",
        **extra,
    )


#: The users of the demo tenant. The last one has the awkward data a client must cope
#: with: null mail/office/language, no phones, and a job title that needs HTML escaping.
DEMO_USERS: tuple[DemoUser, ...] = (
    _contoso(
        "8a1f3c2e-5b7d-4e9a-9c1b-2d3e4f5a6b70", "Adele", "Vance",
        job_title="Retail Manager", office_location="18/2111", phone="+1 425 555 0109",
    ),
    _contoso(
        "4c7d2b91-3e5f-4a6b-8c9d-0e1f2a3b4c5d", "Alex", "Wilber",
        job_title="Marketing Assistant", office_location="131/1104", phone="+1 858 555 0110",
    ),
    _contoso(
        "d2e3f4a5-b6c7-4d8e-9f0a-1b2c3d4e5f60", "Megan", "Bowen",
        job_title="Marketing Manager", office_location="12/1110", phone="+1 412 555 0109",
    ),
    DemoUser(
        oid="5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c",
        tenant_id=DEMO_TENANT_ID,
        upn=f"lee.gu@{DEMO_TENANT_DOMAIN}",
        name="Lee Gu",
        given_name="Lee",
        family_name="Gu",
        job_title='Director, R&D <Labs> "North"',
    ),
)

FABRIKAM_USERS: tuple[DemoUser, ...] = (
    DemoUser(
        oid="9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
        tenant_id=FABRIKAM_TENANT_ID,
        upn=f"nestor.wilke@{FABRIKAM_TENANT_DOMAIN}",
        name="Nestor Wilke",
        given_name="Nestor",
        family_name="Wilke",
        mail=f"nestor.wilke@{FABRIKAM_TENANT_DOMAIN}",
        job_title="Director",
        office_location="36/2121",
        business_phones=("+1 206 555 0105",),
        preferred_language="en-US",
    ),
)


class Directory:
    """Tenants, users and app registrations; ``register`` may be called at any time."""

    def __init__(
        self,
        tenants: Iterable[Tenant],
        users: Iterable[DemoUser],
        clients: Iterable[ClientRegistration],
    ) -> None:
        self._lock = threading.Lock()
        self.tenants: tuple[Tenant, ...] = tuple(tenants)
        self.users: tuple[DemoUser, ...] = tuple(users)
        known = {t.tenant_id for t in self.tenants}
        for user in self.users:
            if user.tenant_id not in known:
                raise ValueError(f"user {user.upn} belongs to an unknown tenant")
        self._clients: dict[str, ClientRegistration] = {}
        for client in clients:
            self.register(client)

    def register(self, client: ClientRegistration) -> None:
        with self._lock:
            self._clients[client.client_id] = client

    def client(self, client_id: str) -> ClientRegistration | None:
        with self._lock:
            return self._clients.get(client_id)

    def clients(self) -> list[ClientRegistration]:
        with self._lock:
            return list(self._clients.values())

    def resolve(self, segment: str) -> TenantScope | None:
        """The tenant a path segment names: GUID or domain (case-insensitive) or alias."""
        key = segment.lower()
        if key in _MULTI_TENANT_ALIASES:
            return TenantScope(segment, None)
        for tenant in self.tenants:
            if key in (tenant.tenant_id.lower(), tenant.domain.lower()):
                return TenantScope(segment, tenant)
        return None

    def tenant(self, tenant_id: str) -> Tenant:
        for tenant in self.tenants:
            if tenant.tenant_id == tenant_id:
                return tenant
        raise KeyError(tenant_id)

    def users_in(self, scope: TenantScope) -> list[DemoUser]:
        if scope.tenant is None:
            return list(self.users)
        return [u for u in self.users if u.tenant_id == scope.tenant.tenant_id]

    def find_user(self, scope: TenantScope, key: str) -> DemoUser | None:
        """A user of ``scope`` by upn (case-insensitive) or by oid."""
        wanted = key.strip().lower()
        for user in self.users_in(scope):
            if wanted in (user.upn.lower(), user.oid.lower()):
                return user
        return None

    def user_by_oid(self, tenant_id: str, oid: str) -> DemoUser | None:
        for user in self.users:
            if user.tenant_id == tenant_id and user.oid == oid:
                return user
        return None

    @staticmethod
    def client_exists_in(client: ClientRegistration, tenant_id: str) -> bool:
        """A multi-tenant app is usable in every tenant; a single-tenant one only at home."""
        return client.multi_tenant or client.home_tenant_id == tenant_id
