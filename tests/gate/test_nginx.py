"""examples/nginx.conf in a real nginx: forward auth (``auth_request /.auth/verify``) in front of
a non-Python app, the config's own stand-in server (it echoes the X-Auth-Request-* headers it
gets and serves static files). aadweb runs under gunicorn -w 2 with
``AADWEB_APP=examples.forward_auth:app``, so its routes are under /.auth.

The example is rendered for this test only by changing its three loopback ports, and adding
what a non-root nginx needs (temp paths under the prefix); nginx runs in the foreground
(``daemon off``) and is stopped by its pid.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from aadweb.emulator import DEMO_TENANT_ID, Emulator, EmulatorServer
from tests.gate.support import ADELE, NAVIGATE, ROOT, GateBrowser, gunicorn_gate, requires_gate, stop_group
from tests.test_cli import free_port

pytestmark = [requires_gate, pytest.mark.timeout(120)]

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
EXAMPLE = ROOT / "examples" / "nginx.conf"
STATIC = "hello from the static upstream\n"


def render(conf: str, *, front: int, aadweb: int, app: int, prefix: Path) -> str:
    """The example with this test's ports, and temp paths a non-root nginx can write."""
    for example_port, port in ((8000, front), (5000, aadweb), (8080, app)):
        conf, count = re.subn(rf"127\.0\.0\.1:{example_port}\b", f"127.0.0.1:{port}", conf)
        assert count >= 1, f"examples/nginx.conf no longer uses 127.0.0.1:{example_port}"
    temp = "".join(f"    {kind}_temp_path {prefix / 'temp' / kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return conf.replace("http {\n", "http {\n" + temp, 1)


@contextmanager
def running_nginx(conf: str, prefix: Path, ready_url: str) -> Iterator[int]:
    """nginx -p prefix -c prefix/nginx.conf -g 'daemon off;' in the foreground; yields its pid."""
    if not Path(NGINX).exists():
        pytest.fail("nginx is missing: `make test` installs it (scripts/ensure-debian-packages.sh)")
    for sub in ("logs", "temp", "html/static"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    (prefix / "html" / "static" / "hello.txt").write_text(STATIC)
    (prefix / "nginx.conf").write_text(conf)
    # As root, nginx's workers would drop to "nobody", who cannot read pytest's 0700 temp dirs.
    user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
    out = (prefix / "logs" / "stdout.log").open("ab")
    proc = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                             "-e", str(prefix / "logs" / "error.log"), "-g", f"daemon off; {user}"],
                            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    out.close()
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"nginx exited with {proc.returncode}: {_logs(prefix)}")
            try:
                if requests.get(ready_url, timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"nginx did not proxy {ready_url} within 15 s: {_logs(prefix)}"
            time.sleep(0.1)
        assert int((prefix / "nginx.pid").read_text()) == proc.pid
        yield proc.pid
    finally:
        stop_group(proc)


def _logs(prefix: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted((prefix / "logs").glob("*.log")))


@dataclass
class Front:
    url: str  # nginx, as the browser sees the site
    aadweb: str  # gunicorn, directly


@pytest.fixture(scope="module")
def front(emulator_server: tuple[Emulator, EmulatorServer], tmp_path_factory: pytest.TempPathFactory,
          ) -> Iterator[Front]:
    emulator, server = emulator_server
    tmp = tmp_path_factory.mktemp("nginx")
    front_port, aadweb_port, app_port = free_port(), free_port(), free_port()
    site = f"http://127.0.0.1:{front_port}"
    conf = render(EXAMPLE.read_text(), front=front_port, aadweb=aadweb_port, app=app_port, prefix=tmp / "prefix")
    with gunicorn_gate(emulator, server.url, tmp, app="examples.forward_auth:app", port=aadweb_port, public_origin=site,
                       env={"AADWEB_TRUSTED_PROXY_HOPS": "1"}) as gated, \
            running_nginx(conf, tmp / "prefix", f"{site}/.auth/healthz"):
        yield Front(url=site, aadweb=gated.url)


def _echoed(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_a_signed_out_browser_signs_in_and_the_app_gets_the_users_headers(front: Front, emulator: Emulator) -> None:
    browser = GateBrowser()
    deep_link = f"{front.url}/reports/q3?x=1&y=2"
    first = browser.request("GET", deep_link)
    assert first.status_code in (302, 303), (first.status_code, first.text[:300])
    page = browser.finish_at_authority(browser.get(deep_link))
    assert page.status_code == 200, (page.status_code, page.text[:300], browser.hops)
    assert page.url == deep_link, ("back on the deep link (X-Original-URI honoured by /.auth/login)", browser.hops)
    seen = _echoed(page.text)
    adele = emulator.user(ADELE)
    assert seen["user"] == ADELE and seen["email"] in ("", ADELE)  # v1 id_tokens carry no email claim
    assert seen["oid"] == adele.oid and seen["tid"] == DEMO_TENANT_ID
    assert seen["uri"] == "/reports/q3?x=1&y=2"
    assert "aadweb_" not in seen["cookie"]  # aadweb's cookies are cut out of the app's Cookie header

    static = browser.get(f"{front.url}/static/hello.txt")
    assert static.status_code == 200 and static.text == STATIC


def test_identity_headers_from_the_client_are_overwritten(front: Front) -> None:
    browser = GateBrowser()
    assert browser.sign_in(f"{front.url}/").status_code == 200
    browser.http.cookies.set("app_pref", "dark", domain="127.0.0.1", path="/")
    page = browser.get(f"{front.url}/echo", headers={
        "X-Auth-Request-User": "mallory@evil.example", "X-Auth-Request-Roles": "Admin",
        "X-Auth-Request-Groups": "all", "Remote-User": "mallory@evil.example",
        "X-MS-CLIENT-PRINCIPAL-NAME": "mallory@evil.example"})
    assert page.status_code == 200, page.text[:300]
    seen = _echoed(page.text)
    assert seen["user"] == ADELE
    assert seen["roles"] == "" and seen["groups"] == ""  # a fresh app: no roles, no group claims
    assert seen["remote_user"] == "" and seen["ms_principal"] == ""
    assert "mallory" not in page.text
    assert seen["cookie"] == "app_pref=dark"  # the app's own cookie, and nothing of aadweb's
    # A planted second copy of aadweb's cookie (a sibling domain, plain http) does not make the
    # real one slip through either: every copy is removed (review finding).
    real = "; ".join(f"{c.name}={c.value}" for c in browser.http.cookies if c.name.endswith("aadweb_session"))
    planted = browser.get(f"{front.url}/echo", headers={"Cookie": f"{real}; aadweb_session=junk; app_pref=dark"})
    assert planted.status_code == 200 and _echoed(planted.text)["cookie"] == "app_pref=dark", planted.text
    assert "X-Aadweb-App-Cookie" not in planted.headers and "X-Aadweb-App-Cookie" not in planted.text


def test_a_spoofed_user_header_signed_out_still_goes_to_sign_in(front: Front) -> None:
    resp = requests.get(f"{front.url}/reports", headers={**NAVIGATE, "X-Auth-Request-User": ADELE},
                        allow_redirects=False, timeout=10)
    assert resp.status_code in (302, 303), (resp.status_code, resp.text[:300])


@pytest.mark.parametrize(("method", "headers"), [
    ("GET", {"Accept": "application/json"}),
    ("GET", {**NAVIGATE, "X-Requested-With": "XMLHttpRequest"}),
    ("GET", {"Accept": "*/*", "Sec-Fetch-Mode": "cors"}),
    ("POST", NAVIGATE),
], ids=["accept-json", "x-requested-with", "fetch-cors", "post"])
def test_an_api_call_signed_out_gets_401_json_not_a_redirect(front: Front, method: str,
                                                             headers: dict[str, str]) -> None:
    resp = requests.request(method, f"{front.url}/api/orders?x=1", headers=headers, allow_redirects=False, timeout=10)
    assert resp.status_code == 401 and "Location" not in resp.headers, (resp.status_code, resp.headers)
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json()["login_url"] == "/.auth/login"


def test_verify_is_401_signed_out_and_not_reachable_through_nginx(front: Front) -> None:
    assert requests.get(f"{front.aadweb}/.auth/verify", timeout=10).status_code == 401
    assert requests.get(f"{front.url}/.auth/verify", timeout=10).status_code == 404  # internal: auth_request only
