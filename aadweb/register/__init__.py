"""``aadweb register``: create (or update) the app registration through Microsoft Graph after
signing the admin in with the device authorization grant (RFC 8628), and write the ``AADWEB_*``
file ``AADWEB_CONFIG`` reads.

Steps: device code sign-in of the admin with a public client (:data:`DEFAULT_PUBLIC_CLIENT_ID`,
``AADWEB_REGISTER_CLIENT_ID`` overrides it) asking only ``Application.ReadWrite.All`` on Graph;
``GET /applications?$filter=displayName eq NAME`` (none: create; one: update it; several:
stop); ``addPassword`` (or PATCH ``keyCredentials`` with a certificate it makes); find or create
the service principal; write the file (0600). The new secret is printed once, never logged.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TextIO
from urllib.parse import urlsplit

from aadweb._version import __version__ as VERSION
from aadweb.clouds import CLOUDS
from aadweb.errors import AadWebError, AuthorityError, GraphError
from aadweb.protocol import device_code as dc
from aadweb.protocol import graph_apps as ga
from aadweb.protocol.http import HttpResponse
from aadweb.register._errors import RegisterError, explain_graph, explain_signin
from aadweb.register._files import make_certificate, toml_text, write_private
from aadweb.register._http import Sender
from aadweb.secret import Secret
from aadweb.transcript.redact import Redactor

__all__ = [
    "DEFAULT_PUBLIC_CLIENT_ID",
    "GRAPH_PERMISSION",
    "RegisterError",
    "RegisterOptions",
    "Registrar",
    "Where",
    "where_from_env",
]

#: Microsoft Graph Command Line Tools (Graph PowerShell's public client): present in every
#: tenant, allowed to use the device code flow, and able to ask Graph scopes dynamically.
DEFAULT_PUBLIC_CLIENT_ID: Final = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
#: The least Graph delegated permission that creates an application, adds its credentials and
#: creates its service principal.
GRAPH_PERMISSION: Final = "Application.ReadWrite.All"
_PASSWORD_NAME: Final = "aadweb register"
DEFAULT_NAME: Final = "aadweb app"
DEFAULT_REDIRECT_URI: Final = "http://localhost:5000/getAToken"


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterOptions:
    name: str = DEFAULT_NAME
    redirect_uris: tuple[str, ...] = (DEFAULT_REDIRECT_URI,)
    tenant: str = "organizations"
    endpoint: dc.Endpoint = "v1"
    certificate: bool = False
    out: str = "aadweb.toml"
    dry_run: bool = False
    app_roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Where:
    """Where the authority and Graph are, as the app's own settings say (DESIGN.md)."""

    authority_host: str
    graph_root: str
    public_client_id: str
    #: Graph's identifier at the authority (v1 ``resource``, v2 scope prefix): the cloud's Graph
    #: origin, which stays the same when ``AADWEB_GRAPH_URL`` points elsewhere (the emulator).
    graph_resource: str = "https://graph.microsoft.com"
    ca_bundle: str | None = None
    timeout: float = 10.0
    response_type: str = "code id_token"
    #: The keys of the environment that placed them, copied into the file so the app finds them too.
    carried: Mapping[str, str] | None = None


def where_from_env(env: Mapping[str, str]) -> Where:
    cloud = CLOUDS.get(env.get("AADWEB_CLOUD") or "public")
    if cloud is None:
        raise RegisterError(f"AADWEB_CLOUD must be one of {', '.join(CLOUDS)}.")
    graph_url = env.get("AADWEB_GRAPH_URL")
    graph_root = cloud.graph_root
    if graph_url:
        parts = urlsplit(graph_url)
        graph_root = f"{parts.scheme}://{parts.netloc}"
    try:
        timeout = float(env.get("AADWEB_HTTP_TIMEOUT") or 10)
    except ValueError:
        raise RegisterError("AADWEB_HTTP_TIMEOUT must be a number of seconds.") from None
    carried = {k: env[k] for k in ("AADWEB_CLOUD", "AADWEB_AUTHORITY_HOST", "AADWEB_GRAPH_URL",
                                   "AADWEB_CA_BUNDLE", "AADWEB_RESPONSE_TYPE") if env.get(k)}
    return Where(authority_host=env.get("AADWEB_AUTHORITY_HOST") or cloud.authority_host, graph_root=graph_root,
                 graph_resource=cloud.graph_root,
                 public_client_id=env.get("AADWEB_REGISTER_CLIENT_ID") or DEFAULT_PUBLIC_CLIENT_ID,
                 ca_bundle=env.get("AADWEB_CA_BUNDLE") or None, timeout=timeout,
                 response_type=env.get("AADWEB_RESPONSE_TYPE") or "code id_token", carried=carried)


def _tenant_of(token: Secret) -> str:
    """The ``tid`` of the admin's Graph token, only to name the tenant in the file (Graph,
    not aadweb, validates this token; a wrong value fails at the app's first sign-in)."""
    try:
        payload = token.reveal().split(".")[1]
        tid = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("tid")
    except (IndexError, ValueError, AttributeError):
        tid = None
    if not isinstance(tid, str) or not tid:
        raise RegisterError("The sign-in's token does not name its tenant: pass --tenant with the tenant id.")
    return tid


class Registrar:
    """One run of ``aadweb register``. ``clock``/``sleep`` drive the polling (tests inject
    them); ``wall`` is the time for parsing answers."""

    def __init__(
        self, options: RegisterOptions, where: Where, *, stdout: TextIO, sender: Sender | None = None,
        clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self.where = where
        self.stdout = stdout
        self.sender = sender or Sender(timeout=where.timeout, ca_bundle=where.ca_bundle,
                                       user_agent=f"aadweb-register/{VERSION}")
        self.clock, self.sleep, self.wall = clock, sleep, wall
        self.spec = ga.AppSpec(display_name=options.name, redirect_uris=_with_signed_out(options.redirect_uris),
                               id_tokens=options.endpoint == "v1" and where.response_type == "code id_token",
                               app_roles=options.app_roles)

    # ------------------------------------------------------------------ sign-in

    def _target(self) -> str:
        if self.options.endpoint == "v2":
            return f"{self.where.graph_resource}/{GRAPH_PERMISSION}"
        return self.where.graph_resource  # v1: the client's static Graph permissions

    def sign_in(self) -> Secret:
        """RFC 8628: the device code, the one line for the admin, then polling."""
        common: dict[str, Any] = {"authority_host": self.where.authority_host, "tenant": self.options.tenant,
                                  "client_id": self.where.public_client_id, "endpoint": self.options.endpoint}
        try:
            code = dc.parse_device_code_response(self.sender.form(dc.build_device_code_request(
                **common, target=self._target(), client_request_id=str(uuid.uuid4()))), now=self.wall())
        except AuthorityError as exc:
            raise explain_signin(exc, self.where.public_client_id) from None
        print(f"To sign in, open {code.verification_uri} and enter the code {code.user_code}.",
              file=self.stdout, flush=True)
        deadline = self.clock() + code.expires_in
        interval = code.interval
        while True:
            if self.clock() + interval > deadline:  # RFC 8628 3.5: the code will have expired
                raise RegisterError("The code expired before anyone signed in with it. Run `aadweb register` "
                                    "again and sign in sooner.")
            self.sleep(interval)
            request = dc.build_device_token_request(**common, device_code=code.device_code,
                                                    client_request_id=str(uuid.uuid4()))
            try:
                result = dc.parse_device_token_response(self.sender.form(request), now=self.wall())
            except AuthorityError as exc:
                raise explain_signin(exc, self.where.public_client_id) from None
            if isinstance(result, dc.DeviceToken):
                return result.access_token
            interval = dc.next_poll(interval, result)

    # -------------------------------------------------------------------- Graph

    def _graph(self, call: ga.GraphCall, step: str, parse: Callable[[HttpResponse], Any]) -> Any:
        try:
            return parse(self.sender.graph(call))
        except GraphError as exc:
            raise explain_graph(exc, step, self.options.name) from None

    def register(self, token: Secret) -> tuple[ga.Application, bool, dict[str, str]]:
        """(application, created?, credential keys for the file)."""
        g: dict[str, Any] = {"graph_root": self.where.graph_root, "token": token}
        now = self.wall
        found = self._graph(ga.build_find_applications(**g, name=self.options.name, client_request_id=_crid()),
                            "find", lambda r: ga.parse_applications(r, now=now()))
        if len(found) > 1:
            ids = ", ".join(a.app_id for a in found)
            raise RegisterError(f"{len(found)} applications are named {self.options.name!r} (app ids {ids}): "
                                "rename or delete all but one in the portal, or pick another --name.")
        if found:
            app, created = found[0], False
            self._graph(ga.build_update_application(**g, object_id=app.id, spec=self.spec, client_request_id=_crid()),
                        "update the application", lambda r: ga.expect_no_content(r, what="update", now=now()))
        else:
            app, created = self._graph(ga.build_create_application(**g, spec=self.spec, client_request_id=_crid()),
                                       "create", lambda r: ga.parse_application(r, now=now())), True
        credential = self._credential(g, app)
        sps = self._graph(ga.build_find_service_principals(**g, app_id=app.app_id, client_request_id=_crid()),
                          "find the service principal", lambda r: ga.parse_service_principal_ids(r, now=now()))
        if not sps:
            self._graph(ga.build_create_service_principal(**g, app_id=app.app_id, client_request_id=_crid()),
                        "create the service principal",
                        lambda r: ga.parse_service_principal_ids(r, now=now(), expect=201))
        return app, created, credential

    def _credential(self, g: dict[str, Any], app: ga.Application) -> dict[str, str]:
        if not self.options.certificate:
            secret: Secret = self._graph(
                ga.build_add_password(**g, object_id=app.id, display_name=_PASSWORD_NAME, client_request_id=_crid()),
                "add a client secret", lambda r: ga.parse_password(r, now=self.wall()))
            return {"AADWEB_CLIENT_SECRET": secret.reveal()}
        pem, der_b64 = make_certificate(self.options.name, now=datetime.datetime.fromtimestamp(self.wall(),
                                                                                               datetime.UTC))
        self._graph(ga.build_set_certificate(**g, object_id=app.id, certificate_der_b64=der_b64,
                                             display_name=_PASSWORD_NAME, client_request_id=_crid()),
                    "upload the certificate", lambda r: ga.expect_no_content(r, what="certificate", now=self.wall()))
        path = os.path.abspath(os.path.splitext(self.options.out)[0] + ".pem")
        write_private(path, pem)
        return {"AADWEB_CLIENT_CERTIFICATE": path}

    # ---------------------------------------------------------------------- run

    def config(self, tenant: str, app: ga.Application, credential: Mapping[str, str]) -> dict[str, str]:
        values = {"AADWEB_TENANT": tenant, "AADWEB_CLIENT_ID": app.app_id, **credential,
                  "AADWEB_REDIRECT_URI": self.options.redirect_uris[0],
                  "AADWEB_SECRET_KEY": secrets.token_urlsafe(32), **(self.where.carried or {})}
        if self.options.endpoint == "v2":
            values["AADWEB_ENDPOINT"] = "v2"
        return values

    def run(self) -> int:
        if self.options.dry_run:
            self.dry_run()
            return 0
        token = self.sign_in()
        tenant = self.options.tenant if _is_guid(self.options.tenant) else _tenant_of(token)
        app, created, credential = self.register(token)
        values = self.config(tenant, app, credential)
        write_private(self.options.out, toml_text(values, comment=(
            f"aadweb settings for {app.display_name!r} (app id {app.app_id}), written by aadweb register.\n"
            "Secrets below: keep this file private (mode 0600). Use: AADWEB_CONFIG=<this file> aadweb serve"
        )).encode("utf-8"))
        verb = "Created" if created else "Updated"
        print(f"{verb} application {app.display_name!r}: client id {app.app_id}, tenant {tenant}.", file=self.stdout)
        if "AADWEB_CLIENT_SECRET" in credential:
            print(f"Client secret (shown this once; it is also in {self.options.out}): "
                  f"{credential['AADWEB_CLIENT_SECRET']}", file=self.stdout)
        else:
            print(f"Certificate and key: {credential['AADWEB_CLIENT_CERTIFICATE']}", file=self.stdout)
        print(f"Settings written to {self.options.out} (mode 0600). Run: AADWEB_CONFIG={self.options.out} aadweb serve",
              file=self.stdout, flush=True)
        return 0

    def dry_run(self) -> None:
        """Print what would be sent, through the wire transcript's redaction; nothing is sent."""
        token = Secret("access_token", "<the admin's token after the device code sign-in>")
        g: dict[str, Any] = {"graph_root": self.where.graph_root, "token": token,
                             "client_request_id": "<client-request-id>"}
        device = dc.build_device_code_request(
            authority_host=self.where.authority_host, tenant=self.options.tenant,
            client_id=self.where.public_client_id, endpoint=self.options.endpoint, target=self._target(),
            client_request_id="00000000-0000-0000-0000-000000000000")
        redactor = Redactor()
        print(f"{device.method} {redactor.url(device.url)}", file=self.stdout)
        print("  " + json.dumps(redactor.fields(list((device.revealed_form() or {}).items()))), file=self.stdout)
        calls = [ga.build_find_applications(**g, name=self.options.name),
                 ga.build_create_application(**g, spec=self.spec)]
        if self.options.certificate:
            calls.append(ga.build_set_certificate(**g, object_id="APPLICATION-OBJECT-ID",
                                                  certificate_der_b64="<certificate>", display_name=_PASSWORD_NAME))
        else:
            calls.append(ga.build_add_password(**g, object_id="APPLICATION-OBJECT-ID", display_name=_PASSWORD_NAME))
        calls += [ga.build_find_service_principals(**g, app_id="APP-ID"),
                  ga.build_create_service_principal(**g, app_id="APP-ID")]
        for call in calls:
            print(f"{call.method} {redactor.url(call.url)}", file=self.stdout)
            revealed = [(k, v.reveal() if isinstance(v, Secret) else v) for k, v in call.headers.items()]
            for name, value in redactor.headers(revealed):
                print(f"  {name}: {value}", file=self.stdout)
            if call.body is not None:
                print("  " + json.dumps(call.body), file=self.stdout)
        print("(dry run: nothing was sent; an existing application of that name is updated with PATCH instead)",
              file=self.stdout, flush=True)


def _with_signed_out(uris: tuple[str, ...]) -> tuple[str, ...]:
    """Each ``.../getAToken`` brings its ``.../signed-out``: Azure AD sends the browser back
    after sign-out (``post_logout_redirect_uri``) only to a registered URI."""
    out = list(uris)
    for uri in uris:
        if uri.endswith("/getAToken"):
            sibling = uri.removesuffix("/getAToken") + "/signed-out"
            if sibling not in out:
                out.append(sibling)
    return tuple(out)


def _crid() -> str:
    return str(uuid.uuid4())


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def run_from_args(args: Any, stdout: TextIO, stderr: TextIO, env: Mapping[str, str] | None = None) -> int:
    """The ``aadweb register`` handler: errors are one clear paragraph on stderr, exit status 1."""
    options = RegisterOptions(
        name=args.name, redirect_uris=tuple(args.redirect_uri or (DEFAULT_REDIRECT_URI,)),
        tenant=args.tenant, endpoint=args.endpoint, certificate=args.certificate, out=args.out,
        dry_run=args.dry_run, app_roles=tuple(args.app_role or ()))
    try:
        registrar = Registrar(options, where_from_env(os.environ if env is None else env), stdout=stdout)
        return registrar.run()
    except ValueError as exc:
        print(f"aadweb register: {exc}", file=stderr)
        return 2
    except AadWebError as exc:
        print(f"aadweb register: {exc.user_message if isinstance(exc, RegisterError) else exc}", file=stderr)
        return 1


def add_parser(sub: Any) -> None:
    """The ``register`` subcommand (``sub``: the CLI's subparsers)."""
    p = sub.add_parser("register", help="create the app registration through Graph (device code sign-in)",
                       description="Sign an admin in with a device code, create or update the app registration "
                                   "through Microsoft Graph, and write the AADWEB_* settings file (mode 0600).")
    p.add_argument("--name", default=DEFAULT_NAME, help="the application's display name (re-running updates it)")
    p.add_argument("--redirect-uri", action="append", metavar="URI",
                   help="a redirect URI (repeatable; default http://localhost:5000/getAToken)")
    p.add_argument("--tenant", default="organizations", help="tenant id or domain (default organizations)")
    p.add_argument("--endpoint", choices=("v1", "v2"), default="v1", help="the app's endpoint, also used to sign in")
    p.add_argument("--certificate", action="store_true", help="make and upload a certificate instead of a secret")
    p.add_argument("--app-role", action="append", metavar="VALUE", help="an app role to define (repeatable)")
    p.add_argument("--out", default="aadweb.toml", help="the settings file to write (default aadweb.toml)")
    p.add_argument("--dry-run", action="store_true", help="print the requests it would send; send nothing")
    p.set_defaults(handler=run_from_args)
