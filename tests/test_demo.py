"""`make run` on a fresh clone: `python -m aadweb demo` serves a working sign-in with nothing configured.

The demo runs as a real child process (clean environment, free ports); a cookie-jar browser
signs in through the emulator's page, lands on the home page and reaches /graphcall.
"""

from __future__ import annotations

import re

from aadweb.emulator import DEMO_TENANT_ID, DEMO_USERS
from tests.browserless import Browser
from tests.test_cli import Running, clean_env, free_port


def test_demo_serves_a_full_sign_in_and_graph_call_with_nothing_configured() -> None:
    port, emulator_port = free_port(), free_port()
    # Stray settings from a developer's shell must not break the demo (only four are read).
    env = clean_env({"AADWEB_TENANT": "not-a-tenant", "AADWEB_CLIENT_SECRET": "wrong", "AADWEB_FOO": "1"})
    child = Running(["demo", "--host", "127.0.0.1", "--port", str(port), "--emulator-port", str(emulator_port)], env)
    try:
        app_url = child.wait_for(r"Open (http://localhost:\d+) in your browser", timeout=60).group(1)
        assert app_url == f"http://localhost:{port}"
        child.wait_for(rf"Emulator .*http://127\.0\.0\.1:{emulator_port}\b")
        child.wait_for(r"Ctrl-C")
        banner = "".join(child.stdout)
        for user in DEMO_USERS:
            assert user.upn in banner and user.name in banner

        browser = Browser(timeout=20)
        home = browser.sign_in(app_url, user=DEMO_USERS[0].upn)
        assert home.status_code == 200
        assert home.url == f"{app_url}/"
        assert DEMO_USERS[0].name in home.text
        # The path went through the emulator and the cross-site form_post, then back same-site.
        methods_urls = [(m, re.sub(r"\?.*", "", u)) for m, u, _ in browser.hops]
        assert ("POST", f"{app_url}/getAToken") in methods_urls
        assert ("GET", f"{app_url}/getAToken") in methods_urls
        assert any(u.startswith(f"http://127.0.0.1:{emulator_port}/") for _, u in methods_urls)

        graph = browser.get(f"{app_url}/graphcall")
        assert graph.status_code == 200
        assert DEMO_USERS[0].name in graph.text
        assert DEMO_USERS[0].upn in graph.text
    finally:
        code = child.stop()
    assert code == 0, child.stderr  # SIGTERM stops both servers cleanly
    assert "aadweb demo: stopped" in "".join(child.stdout)
    assert "Traceback" not in child.stderr
    assert "getAToken?" not in child.stderr and "code=" not in child.stderr


def test_demo_endpoint_v2_signs_in_with_the_code_flow_and_scopes() -> None:
    port, emulator_port = free_port(), free_port()
    child = Running(["demo", "--port", str(port), "--emulator-port", str(emulator_port), "--endpoint", "v2"],
                    clean_env())
    try:
        app_url = child.wait_for(r"Open (http://localhost:\d+) in your browser", timeout=60).group(1)
        child.wait_for(r"Ctrl-C")
        banner = "".join(child.stdout)
        assert "Azure AD v2.0" in banner and "response type: code " in banner and "scopes: User.Read" in banner
        browser = Browser(timeout=20)
        home = browser.sign_in(app_url, user=DEMO_USERS[0].upn)
        assert home.status_code == 200 and DEMO_USERS[0].name in home.text
        urls = [(m, re.sub(r"\?.*", "", u)) for m, u, _ in browser.hops]
        assert ("GET", f"http://127.0.0.1:{emulator_port}/{DEMO_TENANT_ID}/oauth2/v2.0/authorize") in urls
        assert ("GET", f"{app_url}/getAToken") in urls and ("POST", f"{app_url}/getAToken") not in urls
        graph = browser.get(f"{app_url}/graphcall")
        assert graph.status_code == 200 and DEMO_USERS[0].name in graph.text
    finally:
        code = child.stop()
    assert code == 0, child.stderr
    assert "Traceback" not in child.stderr


def test_demo_port_0_picks_free_ports_and_prints_them() -> None:
    child = Running(["demo", "--port", "0", "--emulator-port", "0"], clean_env())
    try:
        port = int(child.wait_for(r"Open http://localhost:(\d+) in your browser", timeout=60).group(1))
        emulator_port = int(child.wait_for(r"Emulator .*http://127\.0\.0\.1:(\d+)").group(1))
        assert port > 0 and emulator_port > 0 and port != emulator_port
        health = Browser(timeout=10).get(f"http://localhost:{port}/healthz")
        assert health.status_code == 200
    finally:
        code = child.stop()
    assert code == 0, child.stderr


def test_demo_reports_a_bad_passthrough_setting_without_traceback() -> None:
    child = Running(["demo", "--port", "0", "--emulator-port", "0"], clean_env({"AADWEB_RESPONSE_TYPE": "token"}))
    try:
        child.proc.wait(timeout=60)
    finally:
        code = child.stop()
    assert code == 2
    assert "AADWEB_RESPONSE_TYPE must be" in child.stderr
    assert "Traceback" not in child.stderr
