"""AADWEB_CA_BUNDLE: the CA certificates outbound https is verified against (e.g. a TLS-inspecting
proxy's CA), validated at start-up; the environment's CA variables are never read.

The real emulator is served over TLS on loopback with a certificate from a CA made here; the
app built by ``create_app`` fetches the authority's metadata through its own transport.
"""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from aadweb.cli import main
from aadweb.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID, Emulator
from aadweb.errors import ConfigurationError, DeadlineExceeded, TransportError
from aadweb.settings import Settings
from aadweb.web import create_app
from tests.certs import make_certificate_pem
from tests.transport.tls import Pki, make_pki

SECRET_KEY = "k" * 20 + "-test-secret-key-not-for-production"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_emulator(pki: Pki) -> Iterator[str]:
    """The emulator over https://127.0.0.1:port, its certificate issued by the test CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pki.cert_pem), str(pki.key_pem))
    server = make_server("127.0.0.1", 0, Emulator(), threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def _values(authority: str, **extra: str) -> dict[str, str]:
    return {
        "AADWEB_TENANT": DEMO_TENANT_ID,
        "AADWEB_CLIENT_ID": DEMO_CLIENT_ID,
        "AADWEB_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "AADWEB_SECRET_KEY": SECRET_KEY,
        "AADWEB_SESSION_STORE": "memory:",
        "AADWEB_AUTHORITY_HOST": authority,
        "AADWEB_GRAPH_URL": f"{authority}/v1.0/me",
        **extra,
    }


def test_outbound_https_trusts_the_ca_bundle_and_only_with_it(
    tls_emulator: str, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The environment's CA variables are ignored (requests would read REQUESTS_CA_BUNDLE).
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, str(pki.ca_pem))
    without = create_app(Settings.from_mapping(_values(tls_emulator)))
    try:
        with pytest.raises(TransportError) as refused:
            without.signin.authority.metadata()
        assert not isinstance(refused.value, DeadlineExceeded)
        assert "TLS certificate verification failed" in str(refused.value)
    finally:
        without.close()

    app = create_app(Settings.from_mapping(_values(tls_emulator, AADWEB_CA_BUNDLE=str(pki.ca_pem))))
    try:
        metadata = app.signin.authority.metadata()
        assert metadata.token_endpoint.startswith(f"{tls_emulator}/")
        assert app.signin.authority.keys().keys  # the JWKS too, over the same trusted TLS
    finally:
        app.close()


def _bundles(tmp: Path) -> dict[str, tuple[str, str]]:
    not_pem = tmp / "not-pem.txt"
    not_pem.write_text("these are not certificates\n")
    broken = tmp / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    key_only = tmp / "key-only.pem"
    key_only.write_bytes(make_certificate_pem()[0].split(b"-----BEGIN CERTIFICATE-----")[0])
    return {
        "missing": (str(tmp / "missing.pem"), "cannot be read (No such file or directory)"),
        "a directory": (str(tmp), "cannot be read (Is a directory)"),
        "not PEM": (str(not_pem), "holds no readable PEM certificate"),
        "a broken certificate": (str(broken), "holds no readable PEM certificate"),
        "a private key only": (str(key_only), "holds no readable PEM certificate"),
    }


@pytest.mark.parametrize("case", ["missing", "a directory", "not PEM", "a broken certificate", "a private key only"])
def test_an_unusable_ca_bundle_is_refused_at_start_up_with_one_clear_message(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path, expected = _bundles(tmp_path)[case]
    values = _values("https://login.microsoftonline.com", AADWEB_CA_BUNDLE=path)
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_mapping(values)
    assert len(refused.value.problems) == 1
    assert refused.value.problems[0].startswith(f"AADWEB_CA_BUNDLE {path} {expected}")

    for name in list(os.environ):
        if name.startswith("AADWEB_"):
            monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    assert main(["check-config"]) == 1
    assert f"  - {refused.value.problems[0]}" in capsys.readouterr().out.splitlines()


def test_a_ca_bundle_of_several_certificates_is_accepted(tmp_path: Path, pki: Pki) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(make_certificate_pem()[1].encode() + pki.ca_pem.read_bytes())
    settings = Settings.from_mapping(_values("https://login.microsoftonline.com", AADWEB_CA_BUNDLE=str(bundle)))
    assert settings.ca_bundle == str(bundle)
