"""Flask + ``identity`` (MSAL Python) against the aadweb emulator: the sign-in baseline.

The app is Microsoft's sample shape: ``identity.flask.Auth(app, oidc_authority=..., client_id=...,
client_credential=..., redirect_uri=...)``, ``@auth.login_required`` views, the MSAL token cache
in a Flask-Session filesystem session
(cachelib ``FileSystemCache``, no eviction threshold: see below). ``identity`` builds a new MSAL
``ConfidentialClientApplication`` per request (sharing MSAL's ``http_cache``, so the OpenID
metadata is fetched once per process) with ``instance_discovery=False``.

What had to change to run against the local Azure AD v1 emulator, and nothing else:

* MSAL accepts only ``https://`` authorities and token endpoints (``msal.authority.canonicalize``),
  and the emulator is plain http on loopback. The authority is configured as
  ``https://127.0.0.1:PORT/{tenant}``; the HTTP client that MSAL is given maps exactly that
  origin back to ``http://``, and shows MSAL the metadata's ``token_endpoint`` as ``https://``
  (the browser-facing ``authorization_endpoint`` stays as the emulator wrote it). The client is
  built the way MSAL builds its own default one (a new ``requests.Session`` per MSAL app, one
  retry), so connections are not shared across requests either.
* MSAL speaks v2 (``scope``); the v1 token endpoint needs a ``resource``. The same client adds
  ``resource=https://graph.microsoft.com`` to token requests that have none.
* ``identity`` offers no way to pass that client, so :class:`_Auth` overrides its one private
  factory method (``_build_msal_app``) with identity 0.11's own body plus ``http_client=``.

MSAL checks less than aadweb: since MSAL 1.38 it does not validate the id_token at all (no
signature, no issuer check; the claims are only decoded), and the code flow it runs gets the
id_token from the token endpoint only. The nonce is compared with the flow's.

Environment: ``BENCH_EMULATOR`` (http://127.0.0.1:PORT), ``BENCH_TENANT``, ``BENCH_CLIENT_ID``,
``BENCH_CLIENT_SECRET``, ``BENCH_REDIRECT_URI``, ``BENCH_SESSION_DIR``.

    gunicorn benchmarks.baseline_flask_msal.app:app
"""

from __future__ import annotations

import json
import os
from typing import Any

import identity.flask  # type: ignore[import-untyped]
import identity.web  # type: ignore[import-untyped]
import msal  # type: ignore[import-untyped]
import requests
from cachelib.file import FileSystemCache
from flask import Flask, render_template

EMULATOR = os.environ.get("BENCH_EMULATOR", "http://127.0.0.1:5001")
TENANT = os.environ.get("BENCH_TENANT", "")
HTTPS_ORIGIN = "https://" + EMULATOR.removeprefix("http://")
RESOURCE = "https://graph.microsoft.com"


class _LoopbackV1Session(requests.Session):
    """MSAL's default ``requests.Session``, plus the two mappings above."""

    def __init__(self) -> None:
        super().__init__()
        adapter = requests.adapters.HTTPAdapter(max_retries=1)  # as MSAL mounts on its own
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        url = str(url)
        if url.startswith(HTTPS_ORIGIN + "/"):
            url = EMULATOR + url[len(HTTPS_ORIGIN):]
        if str(method).upper() == "POST" and url.endswith("/oauth2/token"):
            data = dict(kwargs.get("data") or {})
            data.setdefault("resource", RESOURCE)
            kwargs["data"] = data
        response = super().request(method, url, *args, **kwargs)
        if url.endswith("/.well-known/openid-configuration") and response.status_code == 200:
            metadata = response.json()
            token_endpoint = str(metadata.get("token_endpoint", ""))
            if token_endpoint.startswith(EMULATOR + "/"):
                metadata["token_endpoint"] = HTTPS_ORIGIN + token_endpoint[len(EMULATOR):]
                response._content = json.dumps(metadata).encode()
        return response


class _Auth(identity.flask.Auth):  # type: ignore[misc]
    def _build_auth(self, session: Any) -> identity.web.Auth:
        return _WebAuth(session=session, oidc_authority=self._oidc_authority, authority=self._authority,
                        client_id=self._client_id, client_credential=self._client_credential,
                        http_cache=self._http_cache)


class _WebAuth(identity.web.Auth):  # type: ignore[misc]
    def _build_msal_app(self, client_credential: Any = None, cache: Any = None) -> Any:
        # identity 0.11's body, plus http_client (see the module docstring).
        return (msal.ConfidentialClientApplication if client_credential else msal.PublicClientApplication)(
            self._client_id,
            client_credential=client_credential,
            oidc_authority=self._oidc_authority,
            authority=self._authority,
            token_cache=cache,
            http_cache=self._http_cache,
            instance_discovery=False,
            http_client=_LoopbackV1Session(),
        )


app = Flask(__name__)
app.config.update(
    # The sample's app_config.py says SESSION_TYPE = "filesystem": the token cache lives
    # server-side, in files. Flask-Session 0.8 spells that as cachelib's FileSystemCache; its
    # default threshold (500) re-reads every session file on each write once past 500
    # sessions, and evicts the oldest (signs people out). threshold=0 keeps them all, like
    # aadweb's store, and keeps the cost per sign-in flat (in the baseline's favour).
    SESSION_TYPE="cachelib",
    SESSION_CACHELIB=FileSystemCache(os.environ.get("BENCH_SESSION_DIR", "flask_session"), threshold=0),
)
auth = _Auth(
    app,
    oidc_authority=f"{HTTPS_ORIGIN}/{TENANT}",
    client_id=os.environ.get("BENCH_CLIENT_ID", ""),
    client_credential=os.environ.get("BENCH_CLIENT_SECRET"),
    redirect_uri=os.environ.get("BENCH_REDIRECT_URI", "http://localhost:5000/getAToken"),
)


@app.route("/")
@auth.login_required  # type: ignore[untyped-decorator]
def index(*, context: dict[str, Any]) -> str:
    return render_template("index.html", user=context["user"])


@app.route("/call_downstream_api")
@auth.login_required(scopes=["User.Read"])  # type: ignore[untyped-decorator]
def call_downstream_api(*, context: dict[str, Any]) -> str:
    api_result = requests.get(f"{EMULATOR}/v1.0/me", headers={"Authorization": "Bearer " + context["access_token"]},
                              timeout=30).json()
    return render_template("display.html", result=api_result)


__all__ = ["app"]
