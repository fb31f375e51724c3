"""``EmulatorServer(tls=True)`` and ``aadweb emulator --tls``: https from a throwaway CA."""

from __future__ import annotations

import os
import queue
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from aadweb.emulator import DEMO_TENANT_ID, Emulator, EmulatorServer, TlsFiles
from aadweb.testing import demo_settings

from .support import TIMEOUT


@pytest.fixture(autouse=True)
def _no_ca_bundle_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # they override verify=
        monkeypatch.delenv(name, raising=False)


def test_tls_server_is_https_trusted_through_its_ca_file_only(emu: Emulator) -> None:
    with EmulatorServer(emu, tls=True) as srv:
        assert srv.url.startswith("https://127.0.0.1:") and srv.ca_file is not None
        directory = srv.ca_file.parent
        meta = requests.get(f"{srv.url}/{DEMO_TENANT_ID}/v2.0/.well-known/openid-configuration",
                            verify=str(srv.ca_file), timeout=TIMEOUT).json()
        assert meta["token_endpoint"].startswith(f"{srv.url}/")  # endpoints are https too
        localhost = srv.url.replace("127.0.0.1", "localhost")
        assert requests.get(f"{localhost}/", verify=str(srv.ca_file), timeout=TIMEOUT).ok
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{srv.url}/", timeout=TIMEOUT)  # the system store does not trust it
        assert srv.tls is not None
        assert stat.S_IMODE(srv.tls.key_file.stat().st_mode) == 0o600
    assert not directory.exists()  # a directory of its own goes at shutdown


def test_tls_files_are_a_ca_and_a_loopback_server_certificate(tmp_path: Path, emu: Emulator) -> None:
    with EmulatorServer(emu, tls=True, tls_dir=tmp_path) as srv:
        files = srv.tls
    assert isinstance(files, TlsFiles) and files.ca_file.exists()  # a given directory is kept
    ca = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
    leaf = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.issuer == ca.subject
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", "::1"}
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)  # strict verifiers


def test_demo_settings_take_the_ca_bundle(tmp_path: Path, emu: Emulator) -> None:
    with EmulatorServer(emu, tls=True, tls_dir=tmp_path) as srv:
        settings = demo_settings(emulator_url=srv.url, ca_bundle=str(srv.ca_file),
                                 redirect_uri="http://localhost:5000/getAToken", environ={})
    assert settings.ca_bundle == str(tmp_path / "ca.pem")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_cli_tls_prints_the_ca_to_trust_and_stops_cleanly(stop: signal.Signals) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    proc = subprocess.Popen([sys.executable, "-m", "aadweb.emulator", "--port", "0", "--tls"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**env, "PYTHONUNBUFFERED": "1"})
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        first = lines.get(timeout=20)
        assert first.startswith("aadweb emulator listening on https://127.0.0.1:"), first
        url = first.rsplit(" ", 1)[1].strip()
        ca = ""
        while not ca:
            line = lines.get(timeout=10)
            if "CA certificate to trust:" in line:
                ca = line.split(":", 1)[1].strip()
        keys = requests.get(f"{url}/common/discovery/v2.0/keys", verify=ca, timeout=TIMEOUT)
        assert keys.status_code == 200 and len(keys.json()["keys"]) >= 3
        proc.send_signal(stop)
        assert proc.wait(timeout=10) == 0
        rest = []
        while not lines.empty():
            rest.append(lines.get())
        assert "aadweb emulator: stopped\n" in rest
        assert not Path(ca).exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
