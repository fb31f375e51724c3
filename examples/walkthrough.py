"""One sign-in, leg by leg: the OpenID Connect hybrid flow on Azure AD v1, against the emulator.

    python examples/walkthrough.py

Starts aadweb's Azure AD v1 + Graph emulator in this process, then plays both the browser and
the app for ONE sign-in, calling the same library pieces the web app calls:

    Authority.authorize_url      build the authorize request (state, nonce, PKCE)
    emulator sign-in             the browser picks a user (POST with user=...)
    read_callback                read the form_post answer, once
    parse_callback               judge it: error, code, id_token
    validate_front_channel       check the id_token: signature, iss, aud, exp, nonce, c_hash ...
    redeem_code                  POST the code (+ PKCE verifier, + client secret) to the token endpoint
    match_back_channel           the token endpoint's id_token names the same user
    GraphClient.me               GET /v1.0/me with the access token

Each leg prints what was learned, and every message on the wire is printed as the app's wire
transcript shows it (the records of ``AADWEB_WIRE_LOG``, drawn by the renderer of ``aadweb
wire``). Secrets (state, nonce, verifier, code, tokens, client secret) are printed only as
fingerprints ``«kind:sha256-prefix len=N»``, the same value always giving the same fingerprint,
so you can follow one across legs. ``--wire FILE`` also writes the transcript to FILE.
"""

from __future__ import annotations

import secrets
import sys
import time
from contextvars import Token
from html.parser import HTMLParser
from typing import Any, TextIO
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import requests

from aadweb.authority import Authority
from aadweb.emulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_TENANT_ID,
    DEMO_USERS,
    Emulator,
    EmulatorServer,
)
from aadweb.flow import current_flow, flow_id_for
from aadweb.graph import GraphClient
from aadweb.protocol.callback import parse_callback, read_callback
from aadweb.protocol.idtoken import match_back_channel
from aadweb.protocol.pkce import code_challenge_s256
from aadweb.secret import Secret, fingerprint
from aadweb.settings import Settings
from aadweb.transcript.render import Style, render_record
from aadweb.transcript.schema import parse_record
from aadweb.transcript.writer import Transcript
from aadweb.transport import RecordingTransport, RequestsTransport

#: The redirect URI registered for the emulator's demo app. Nothing needs to listen there:
#: this script reads the authority's answer itself instead of letting a browser post it.
REDIRECT_URI = "http://localhost:5000/getAToken"
#: Query and form fields whose values are secrets (or bind a sign-in): shown as fingerprints.
SECRET_FIELDS = frozenset({
    "state", "nonce", "code", "id_token", "access_token", "refresh_token", "client_secret",
    "code_verifier", "client_assertion",
})
TIMEOUT = 10.0


class Printer:
    """Numbered legs, indented details."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.step = 0

    def leg(self, title: str) -> None:
        self.step += 1
        print(f"\n[{self.step}] {title}", file=self.out)

    def line(self, text: str = "", indent: int = 4) -> None:
        print(" " * indent + text, file=self.out)


def shown(name: str, value: str | Secret) -> str:
    """A field's value as it may be printed: secrets as fingerprints."""
    if isinstance(value, Secret):
        return value.fingerprint
    return fingerprint(name, value) if name in SECRET_FIELDS else value


def shown_url(url: str) -> str:
    """The URL with each secret query value replaced by its fingerprint (left unencoded, to be read)."""
    parts = urlsplit(url)
    query = "&".join(
        f"{k}={shown(k, v)}" if k in SECRET_FIELDS else f"{k}={quote(v, safe=':/')}"
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit(parts._replace(query=query))


class _FormPost(HTMLParser):
    """The action and hidden fields of the authority's auto-submitting form_post page."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and not self.action:
            self.action = a.get("action") or ""
        if tag == "input" and a.get("type") == "hidden" and a.get("name"):
            self.fields[a["name"] or ""] = a.get("value") or ""


def main(argv: list[str] | None = None, *, emulator: Emulator | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    emulator = emulator or Emulator()
    user = DEMO_USERS[0]
    p = Printer(out)
    with EmulatorServer(emulator) as server:
        settings = Settings(
            tenant=DEMO_TENANT_ID, client_id=DEMO_CLIENT_ID, client_secret=Secret("client_secret", DEMO_CLIENT_SECRET),
            authority_host=server.url, graph_url=f"{server.url}/v1.0/me", redirect_uri=REDIRECT_URI,
            session_store="memory:", http_timeout=TIMEOUT,
        )

        legs = 0

        def show(record: dict[str, Any]) -> None:
            # Every message on the wire, as the app's wire transcript records and `aadweb wire` prints it.
            nonlocal legs
            legs += 1
            p.line()
            for line in render_record(legs, parse_record(record), Style(color=False)):
                p.line(line, indent=2)

        wire_log = argv[argv.index("--wire") + 1] if argv and "--wire" in argv[:-1] else None
        transcript = Transcript(wire_log, sink=show)
        transport = RecordingTransport(RequestsTransport(timeout=TIMEOUT), on_exchange=transcript.on_exchange)
        authority = Authority(settings, transport)
        graph = GraphClient(settings, transport)
        browser = requests.Session()
        flow_token: Token[str | None] | None = None
        print(f"aadweb walkthrough: one sign-in against the emulator at {server.url}", file=out)
        print("(secrets are shown only as fingerprints «kind:sha256-prefix len=N»)", file=out)
        try:
            # --- 1. the app starts a sign-in ------------------------------------------------
            p.leg("app: a pending sign-in {state, nonce, PKCE verifier} is kept server-side")
            state = secrets.token_urlsafe(32)
            flow = flow_id_for(state)  # the transcript's id for this sign-in: one-way from the state
            flow_token = current_flow.set(flow)
            nonce = Secret("nonce", secrets.token_urlsafe(32))
            verifier = Secret("code_verifier", secrets.token_urlsafe(48))
            challenge = code_challenge_s256(verifier.reveal())
            p.line(f"state           {shown('state', state)}   binds the answer to this browser (RFC 6749 10.12)")
            p.line(f"nonce           {nonce}   binds the id_token to this sign-in (OIDC 3.1.2.1)")
            p.line(f"code_verifier   {verifier}   binds the code to this app (RFC 7636)")
            p.line(f"code_challenge  {challenge}   = BASE64URL(SHA256(verifier)), public")
            url = authority.authorize_url(state=state, nonce=nonce, code_challenge=challenge)

            # --- 2. the browser is sent to the authority ------------------------------------
            p.leg("browser -> authority: the authorize request (the app answered /login with a redirect here)")
            base, _, query = url.partition("?")
            p.line(f"GET {base}?")
            for name, value in parse_qsl(query, keep_blank_values=True):
                p.line(f"{name}={shown(name, value)}", indent=10)
            page = browser.get(url, allow_redirects=False, timeout=TIMEOUT)
            offered = page.text.count('name="user"')
            p.line(f"<- {page.status_code}: the sign-in page ('Pick an account', {offered} users)", indent=7)
            if page.status_code != 200:
                return 1

            # --- 3. the user signs in; the authority answers with a form_post -----------------
            p.leg(f"browser -> authority: {user.upn} signs in")
            target = urlsplit(url)
            form = {**dict(parse_qsl(target.query)), "user": user.upn}
            p.line(f"POST {target.scheme}://{target.netloc}{target.path}  (the same parameters + user={user.upn})")
            answer = browser.post(f"{target.scheme}://{target.netloc}{target.path}", data=form,
                                  allow_redirects=False, timeout=TIMEOUT)
            parser = _FormPost()
            parser.feed(answer.text)
            p.line(f"<- {answer.status_code}: an auto-submitting form (response_mode=form_post) to {parser.action}",
                   indent=7)
            for name, value in parser.fields.items():
                p.line(f"{name}={shown(name, value)}", indent=10)
            p.line(f"the state is the one we sent: {parser.fields.get('state') == state}")
            form = "application/x-www-form-urlencoded"
            transcript.inbound_request(
                leg="form_post", flow=flow, started=time.time(), exchange=transcript.new_exchange(), method="POST",
                url=parser.action, headers=[("Content-Type", form)],
                body=(form, urlencode(parser.fields).encode("ascii")),
            )

            # --- 4. the app reads the callback --------------------------------------------------
            p.leg(f"browser -> app: POST {parser.action}  (read_callback, parse_callback)")
            posted = read_callback({k: (v,) for k, v in parser.fields.items()})
            callback = parse_callback(posted, response_type=settings.response_type)
            p.line(f"code      {callback.code}")
            p.line(f"id_token  {callback.id_token}")

            # --- 5. the id_token is validated -------------------------------------------------
            p.leg("app: validate the front-channel id_token (metadata and keys are fetched once, then cached)")
            assert callback.id_token is not None
            validated = authority.validate_front_channel(callback.id_token, nonce=nonce, code=callback.code)
            transcript.validation(flow=flow, verdicts=validated.verdicts)
            claims = validated.claims
            p.line(f"learned: header alg={validated.header.get('alg')} kid={validated.header.get('kid')}")
            p.line(f"         iss={claims.iss} aud={claims.aud}")
            p.line(f"         the user is (tid={claims.tid}, oid={claims.oid}): {claims.name}")
            p.line(f"         valid until {time.strftime('%H:%M:%S', time.localtime(claims.exp))}")

            # --- 6. the code is redeemed --------------------------------------------------------
            p.leg("app -> authority: redeem the code (with the PKCE verifier and the client secret)")
            tokens = authority.redeem_code(callback.code, code_verifier=verifier)
            p.line(f"learned: {tokens.token_type} access token {tokens.access_token}")
            p.line(f"         for resource {tokens.resource}, scope {tokens.scope}, "
                   f"expires in {tokens.expires_on - time.time():.0f} s")
            p.line(f"         refresh token {tokens.refresh_token}")
            p.line(f"         id_token {tokens.id_token} (v1: unsigned, alg none)")

            # --- 7. both id_tokens name the same user -----------------------------------------
            p.leg("app: the token endpoint's id_token must name the same user (match_back_channel)")
            if tokens.id_token is not None:
                transcript.validation(flow=flow, verdicts=(match_back_channel(tokens.id_token, claims),))

            # --- 8. Microsoft Graph -------------------------------------------------------------
            p.leg("app -> Graph: GET /me with the access token (GraphClient.me)")
            me = graph.me(tokens.access_token)
            p.line(f"learned: displayName={me.display_name!r} userPrincipalName={me.user_principal_name!r}")
            p.line(f"         Graph's id is the id_token's oid: {me.id == claims.oid}")
        finally:
            if flow_token is not None:
                current_flow.reset(flow_token)
            browser.close()
            transport.close()
            transcript.close()
        minted = len(emulator.minted_secrets())
        print(f"\nDone: the emulator minted {minted} secrets (code, tokens); none was printed in clear.", file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
