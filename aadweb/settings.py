"""Configuration: read once, validated once, frozen.

Every ``AADWEB_*`` variable of the configuration contract (DESIGN.md) becomes a field of
:class:`Settings`. Values come from the environment, or from a TOML file named by
``AADWEB_CONFIG`` holding the same keys (the environment wins). Every problem is found in one
pass and reported together in one :class:`~aadweb.errors.ConfigurationError`, one sentence per
problem, so ``aadweb check-config`` can print them all.

Secrets (the client secret and the secret key) are held as :class:`~aadweb.secret.Secret`, so
printing a ``Settings`` shows fingerprints only.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Final

from aadweb._config_checks import (
    DOMAIN_RE,
    GUID_RE,
    MIN_SECRET_KEY_LENGTH,
    WEAK_SECRET_KEYS,
    ca_bundle_problems,
    session_time_problems,
    url_problems,
)
from aadweb._config_read import PARSERS, read_toml, text
from aadweb.clouds import CLOUDS, Cloud
from aadweb.errors import ConfigurationError
from aadweb.gate_settings import gate_problems
from aadweb.protocol.authorize import RESPONSE_TYPES
from aadweb.protocol.client_assertion import ClientCertificate
from aadweb.protocol.endpoint import Endpoint, scope_target, v1_endpoint, v2_endpoint
from aadweb.secret import Secret, redact_url

# Cloud presets live in aadweb.clouds, value checks in aadweb._config_checks, value parsers and
# the TOML file in aadweb._config_read; CLOUDS, Cloud and redact_url stay importable from here.
__all__ = ["CLOUDS", "Cloud", "Settings", "env_values", "redact_url"]

MULTI_TENANT: Final = frozenset({"common", "organizations"})
#: ``AADWEB_SESSION_LIFETIME``: default 8 hours (a working day), bounds 5 minutes to 90 days
#: (Azure AD's refresh tokens end after 90 days of inactivity: a session cannot outlive that).
DEFAULT_SESSION_LIFETIME: Final = 28800


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The validated configuration. Build with :meth:`from_env`, or directly with keywords."""

    tenant: str
    client_id: str
    client_secret: Secret | None = None
    client_certificate: ClientCertificate | None = None
    redirect_uri: str = "http://localhost:5000/getAToken"
    resource: str = ""
    cloud: str = "public"
    authority_host: str = ""
    graph_url: str = ""
    #: Empty: the endpoint's default, ``code id_token`` on v1 and ``code`` on v2.
    response_type: str = ""
    endpoint: str = "v1"
    #: v2 only (empty: ``User.Read``); ``openid profile offline_access`` are always added.
    scopes: tuple[str, ...] = ()
    allowed_tenants: tuple[str, ...] = ()
    secret_key: Secret | None = None
    session_store: str = "sqlite:///aadweb-sessions.db"
    wire_log: str | None = None
    wire_view: bool = False
    wire_personal: bool = False
    trusted_proxy_hops: int = 0
    http_timeout: float = 10.0
    clock_skew: int = 120
    session_lifetime: int = DEFAULT_SESSION_LIFETIME
    session_idle: int = 0
    app_signing_keys: bool = False
    proxy: str | None = None
    ca_bundle: str | None = None
    # The gate (DESIGN.md, "Protecting an app"): see aadweb.gate_settings for the rules.
    app: str | None = None
    route_prefix: str = "/.auth"
    public_paths: tuple[str, ...] = ()
    require_roles: tuple[str, ...] = ()
    require_groups: tuple[str, ...] = ()

    def __repr__(self) -> str:
        """Every field, as the dataclass would show it, but the store URL without its password."""
        def show(name: str) -> str:
            value = getattr(self, name)
            return repr(redact_url(value) if name == "session_store" else value)

        return f"Settings({', '.join(f'{f.name}={show(f.name)}' for f in fields(self) if f.repr)})"

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoint", self.endpoint.strip().lower())
        v2 = self.endpoint == "v2"
        if not self.response_type:
            # DESIGN.md, The v2.0 endpoint: the code flow is v2's default (its id_tokens are signed).
            object.__setattr__(self, "response_type", "code" if v2 else "code id_token")
        if v2 and not self.scopes:
            object.__setattr__(self, "scopes", ("User.Read",))
        cloud = CLOUDS.get(self.cloud)
        if v2 and self.resource and (cloud is None or self.resource.rstrip("/") != cloud.graph_root):
            # A v2 token is asked by scopes; a resource set for v2 would be silently unused.
            resource_problem = [
                f"AADWEB_RESOURCE is for AADWEB_ENDPOINT=v1 only; on v2 name what you need in AADWEB_SCOPES "
                f"(e.g. {self.resource.rstrip('/')}/.default, or the API's scopes)."
            ]
        else:
            resource_problem = []
        if cloud is not None:
            # Presets fill what was not set explicitly.
            if not self.authority_host:
                object.__setattr__(self, "authority_host", cloud.authority_host)
            if not self.graph_url:
                object.__setattr__(self, "graph_url", f"{cloud.graph_root}/v1.0/me")
            if not self.resource:
                object.__setattr__(self, "resource", cloud.graph_root)
        object.__setattr__(self, "authority_host", self.authority_host.rstrip("/"))
        object.__setattr__(self, "tenant", self.tenant.strip().lower())
        object.__setattr__(self, "client_id", self.client_id.strip().lower())
        object.__setattr__(self, "allowed_tenants", tuple(t.strip().lower() for t in self.allowed_tenants))
        object.__setattr__(self, "require_groups", tuple(g.strip().lower() for g in self.require_groups))
        problems = [*resource_problem, *self.problems()]
        if problems:
            raise ConfigurationError(problems)

    # --- derived values -----------------------------------------------------------------

    @property
    def is_multi_tenant(self) -> bool:
        return self.tenant in MULTI_TENANT

    @property
    def tenant_is_guid(self) -> bool:
        return bool(GUID_RE.match(self.tenant))

    @property
    def issuer_prefix(self) -> str:
        return CLOUDS[self.cloud].issuer_prefix

    @property
    def is_v2(self) -> bool:
        return self.endpoint == "v2"

    @property
    def protocol_endpoint(self) -> Endpoint:
        """Paths, issuer and token rules of ``AADWEB_ENDPOINT`` in ``AADWEB_CLOUD``."""
        cloud = CLOUDS[self.cloud]
        return v2_endpoint(cloud.issuer_v2_host) if self.is_v2 else v1_endpoint(cloud.issuer_prefix)

    @property
    def token_target(self) -> str:
        """What the sign-in's access token is for: v1 ``AADWEB_RESOURCE``; v2 ``AADWEB_SCOPES``
        (sorted, one space apart: :func:`~aadweb.protocol.endpoint.scope_target`)."""
        return scope_target(self.scopes) if self.is_v2 else self.resource

    @property
    def hybrid(self) -> bool:
        """True for the default OpenID Connect hybrid flow (``code id_token`` + form_post)."""
        return self.response_type == "code id_token"

    @property
    def tenant_url(self) -> str:
        return f"{self.authority_host}/{self.tenant}"

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some fields changed, validated again."""
        return replace(self, **changes)

    # --- validation ---------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Every problem with these values, one sentence each (empty when valid)."""
        p: list[str] = []
        if not self.tenant:
            p.append("AADWEB_TENANT is required: your tenant's GUID, a verified domain, 'common' or 'organizations'.")
        elif not (self.tenant in MULTI_TENANT or GUID_RE.match(self.tenant) or DOMAIN_RE.match(self.tenant)):
            p.append(
                f"AADWEB_TENANT {self.tenant!r} is not a tenant GUID, a domain name, 'common' or 'organizations'."
            )
        if not self.client_id:
            p.append("AADWEB_CLIENT_ID is required: the Application (client) ID of your app registration.")
        elif not GUID_RE.match(self.client_id):
            p.append("AADWEB_CLIENT_ID must be a GUID: the Application (client) ID from the app registration.")
        if self.client_secret is not None and self.client_certificate is not None:
            p.append("Set only one of AADWEB_CLIENT_SECRET and AADWEB_CLIENT_CERTIFICATE.")
        elif self.client_secret is None and self.client_certificate is None:
            p.append("A client credential is required: set AADWEB_CLIENT_SECRET or AADWEB_CLIENT_CERTIFICATE.")
        if self.cloud not in CLOUDS:
            p.append(f"AADWEB_CLOUD must be one of {', '.join(CLOUDS)}, not {self.cloud!r}.")
        p += url_problems("AADWEB_AUTHORITY_HOST", self.authority_host, allow_path=False)
        p += url_problems("AADWEB_GRAPH_URL", self.graph_url, allow_path=True)
        p += url_problems("AADWEB_REDIRECT_URI", self.redirect_uri, allow_path=True)
        if len(self.redirect_uri.encode()) > 255:
            p.append("AADWEB_REDIRECT_URI is longer than the 255 bytes Azure AD accepts.")
        if not self.resource and not self.is_v2:
            p.append("AADWEB_RESOURCE must not be empty (the App ID URI, e.g. https://graph.microsoft.com).")
        if self.endpoint not in ("v1", "v2"):
            p.append(f"AADWEB_ENDPOINT must be 'v1' (default, resource=) or 'v2' (scopes), not {self.endpoint!r}.")
        p += self._scope_problems()
        if self.response_type not in RESPONSE_TYPES:
            p.append("AADWEB_RESPONSE_TYPE must be 'code id_token' (OpenID Connect hybrid, v1's default) or 'code' "
                     "(v2's default).")
        if self.is_multi_tenant and not self.allowed_tenants:
            p.append(
                f"AADWEB_TENANT={self.tenant} lets any organisation sign in: list the tenant GUIDs you accept "
                "in AADWEB_ALLOWED_TENANTS."
            )
        if self.allowed_tenants and not self.is_multi_tenant:
            p.append("AADWEB_ALLOWED_TENANTS applies only with AADWEB_TENANT=common or organizations.")
        for t in self.allowed_tenants:
            if not GUID_RE.match(t):
                p.append(f"AADWEB_ALLOWED_TENANTS entry {t!r} is not a tenant GUID.")
        # AADWEB_SECRET_KEY may be absent: what needs one (the web app, a session store) says so.
        if self.secret_key is not None and self.secret_key.reveal().strip().lower() in WEAK_SECRET_KEYS:
            p.append("AADWEB_SECRET_KEY is a well-known placeholder value: generate a random one.")
        elif self.secret_key is not None and len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
            p.append(f"AADWEB_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters long.")
        if not self.session_store.startswith(("memory:", "sqlite:///", "redis://", "rediss://")):
            p.append("AADWEB_SESSION_STORE must be 'memory:', 'sqlite:///path' or 'redis://host:port/db'.")
        if not 0 <= self.trusted_proxy_hops <= 10:
            p.append("AADWEB_TRUSTED_PROXY_HOPS must be a whole number from 0 to 10.")
        if not (math.isfinite(self.http_timeout) and 0 < self.http_timeout <= 120):
            p.append("AADWEB_HTTP_TIMEOUT must be a number of seconds above 0 and at most 120.")
        if not 0 <= self.clock_skew <= 600:
            p.append("AADWEB_CLOCK_SKEW must be a whole number of seconds from 0 to 600.")
        p += session_time_problems(self.session_lifetime, self.session_idle)
        if self.proxy is not None:
            p += url_problems("AADWEB_PROXY", self.proxy, allow_path=False, allow_http=True)
        if self.ca_bundle is not None:
            p += ca_bundle_problems(self.ca_bundle)
        p += gate_problems(app=self.app, route_prefix=self.route_prefix, public_paths=self.public_paths,
                           require_roles=self.require_roles, require_groups=self.require_groups)
        return p

    def _scope_problems(self) -> list[str]:
        if not self.scopes:
            return []
        if not self.is_v2:
            return ["AADWEB_SCOPES is for AADWEB_ENDPOINT=v2 only; on v1 the token is for AADWEB_RESOURCE."]
        try:
            scope_target(self.scopes)
        except ValueError as exc:
            return [f"AADWEB_SCOPES: {exc}."]
        graph = CLOUDS[self.cloud].graph_root if self.cloud in CLOUDS else ""
        # Azure v2.0 gives a token for ONE resource: scopes of several cannot be asked together.
        resources = {
            (scope.rsplit("/", 1)[0] if "/" in scope else graph).rstrip("/")
            for scope in self.scopes if scope not in ("openid", "profile", "offline_access", "email")
        }
        if len(resources) > 1:
            return ["AADWEB_SCOPES names scopes of several resources, but a token is for one: keep the sign-in's "
                    "resource here and ask for the others with access_token(scopes=[...])."]
        return []

    # --- loading ------------------------------------------------------------------------

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``AADWEB_*`` from ``environ`` (default ``os.environ``) and ``AADWEB_CONFIG``."""
        values, problems = env_values(environ)
        return cls.from_mapping(values, problems=problems)

    @classmethod
    def from_mapping(cls, values: Mapping[str, str], *, problems: list[str] | None = None) -> Settings:
        """Build from ``AADWEB_*`` string values; every problem is reported at once."""
        problems = [] if problems is None else problems
        kwargs: dict[str, Any] = {}
        known = {f"AADWEB_{f.name.upper()}" for f in fields(cls)}
        for name in sorted(set(values) - known):
            problems.append(f"{name} is not an aadweb setting (a typo?).")
        for name, raw in values.items():
            if name not in known:
                continue
            attr = name.removeprefix("AADWEB_").lower()
            parser = PARSERS.get(attr, text)
            try:
                value = parser(raw.strip())
            except ValueError as exc:
                problems.append(f"{name} {exc}")
                continue
            if value is not None:
                kwargs[attr] = value
        kwargs.setdefault("tenant", "")
        kwargs.setdefault("client_id", "")
        try:
            settings = cls(**kwargs)
        except ConfigurationError as exc:
            raise ConfigurationError([*problems, *exc.problems]) from None
        if problems:
            raise ConfigurationError(problems)
        return settings


def env_values(environ: Mapping[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
    """The ``AADWEB_*`` values of ``environ`` (default ``os.environ``) over those of the file
    ``AADWEB_CONFIG`` names, and the problems met reading that file."""
    env = dict(os.environ if environ is None else environ)
    problems: list[str] = []
    values: dict[str, str] = {}
    config_path = env.get("AADWEB_CONFIG")
    if config_path:
        values.update(read_toml(config_path, problems))
    values.update({k: v for k, v in env.items() if k.startswith("AADWEB_") and k != "AADWEB_CONFIG"})
    return values, problems
