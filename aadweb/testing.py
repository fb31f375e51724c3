"""What an embedder's tests (and demos) need, in one public module.

* the local Azure AD v1 + Graph emulator, served on a loopback port (port 0 picks a free one)::

      from aadweb.testing import Emulator, EmulatorServer, demo_settings, register_demo_redirect

      emulator = Emulator()                                 # demo tenants, users and app
      with EmulatorServer(emulator) as server:              # 127.0.0.1, free port, daemon thread
          register_demo_redirect(emulator, "http://localhost:5000/getAToken")
          settings = demo_settings(emulator_url=server.url, redirect_uri="http://localhost:5000/getAToken")
          app = create_app(settings)

* the same over https, for clients that insist on it (MSAL, ADAL): ``tls=True`` makes a
  throwaway CA and a certificate for the loopback names; ``server.ca_file`` is the CA to trust::

      with EmulatorServer(Emulator(), tls=True) as server:     # https://127.0.0.1:<port>
          app = msal.ConfidentialClientApplication(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET,
              authority=f"{server.url}/{DEMO_TENANT_ID}", verify=str(server.ca_file))
          settings = demo_settings(emulator_url=server.url, redirect_uri=...,
                                   ca_bundle=str(server.ca_file))

* :func:`demo_settings`: the settings ``aadweb demo`` uses (the emulator's tenant and app, a
  throwaway secret key, the ``memory:`` store);
* :class:`DevServer`: the development server of ``aadweb serve`` (no query string in its log);
* :class:`MockTransport`: answers outbound calls from a function, no network.

A façade by design: the names are defined in ``aadweb.emulator``, ``aadweb.transport`` and the
development server's module, and collected here.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from typing import Final

from aadweb._devserver import DevServer
from aadweb.emulator import (
    DEMO_CLIENT,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_TENANT_ID,
    DEMO_USERS,
    Emulator,
    EmulatorServer,
    Fault,
    TlsFiles,
)
from aadweb.settings import Settings
from aadweb.transport import MockHandler, MockTransport

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_ENV_PASSTHROUGH",
    "DEMO_TENANT_ID",
    "DEMO_USERS",
    "DevServer",
    "Emulator",
    "EmulatorServer",
    "Fault",
    "MockHandler",
    "MockTransport",
    "TlsFiles",
    "demo_settings",
    "register_demo_redirect",
]

#: The only AADWEB_* variables ``aadweb demo`` reads; every other one is ignored on purpose,
#: so a half-configured shell cannot break the demo.
DEMO_ENV_PASSTHROUGH: Final = ("AADWEB_SESSION_STORE", "AADWEB_RESPONSE_TYPE", "AADWEB_WIRE_LOG", "AADWEB_WIRE_VIEW")


def demo_settings(
    *, emulator_url: str, redirect_uri: str, environ: Mapping[str, str] | None = None,
    secret_key: str | None = None, wire_log: str | None = None, ca_bundle: str | None = None,
    endpoint: str = "v1",
) -> Settings:
    """Settings for the demo: the emulator's tenant and app, a throwaway secret key.

    Only :data:`DEMO_ENV_PASSTHROUGH` are taken from ``environ``; the session store defaults
    to ``memory:`` (one process, nothing written to disk). With ``wire_log`` the wire transcript
    goes there and its page is on (``AADWEB_WIRE_LOG`` / ``AADWEB_WIRE_VIEW=0`` override).
    ``ca_bundle``: the CA file of an emulator served with ``tls=True`` (``AADWEB_CA_BUNDLE``).
    ``endpoint``: ``AADWEB_ENDPOINT`` (``v2``: the code flow and ``User.Read`` by default).
    """
    env = os.environ if environ is None else environ
    values = {
        "AADWEB_TENANT": DEMO_TENANT_ID,
        "AADWEB_CLIENT_ID": DEMO_CLIENT_ID,
        "AADWEB_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "AADWEB_AUTHORITY_HOST": emulator_url,
        "AADWEB_GRAPH_URL": f"{emulator_url}/v1.0/me",
        "AADWEB_REDIRECT_URI": redirect_uri,
        "AADWEB_SECRET_KEY": secret_key or secrets.token_urlsafe(48),
        "AADWEB_SESSION_STORE": "memory:",
        "AADWEB_ENDPOINT": endpoint,
    }
    if ca_bundle:
        values["AADWEB_CA_BUNDLE"] = ca_bundle
    if wire_log:
        values.update({"AADWEB_WIRE_LOG": wire_log, "AADWEB_WIRE_VIEW": "1"})
    values.update({name: env[name] for name in DEMO_ENV_PASSTHROUGH if env.get(name)})
    return Settings.from_mapping(values)


def register_demo_redirect(emulator: Emulator, redirect_uri: str) -> None:
    """Make the emulator's demo app registration allow exactly ``redirect_uri``."""
    emulator.register_client(dataclasses.replace(DEMO_CLIENT, redirect_uris=(redirect_uri,)))
