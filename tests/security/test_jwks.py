"""The tenant's keys and metadata: rotation, the unknown-kid refetch limit, outages, redirects,
hostile key sets, metadata that points elsewhere (OIDC Core 10.1.1, RFC 8725 3.10, OpenID RP
tests rp-key-rotation-op-sign-key, rp-key-rotation-op-sign-key-native)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.hostile.answers import json_answer, raw_answer, redirect_answer
from tests.hostile.harness import HTTP_TIMEOUT, Rig, failed_check
from tests.hostile.keys import rsa_key
from tests.hostile.server import OTHER_TENANT_ID

K1, K2, ATTACKER = rsa_key("hostile-k1"), rsa_key("hostile-k2"), rsa_key("attacker")
REFETCH_LIMIT = 300.0


def _rotate(rig: Rig, *, keep_old: bool = True) -> None:
    rig.idp.script.published = [K1, K2] if keep_old else [K2]
    rig.idp.script.signing_key = K2


def test_key_rotated_just_after_start_up_is_accepted_at_once(rig: Rig) -> None:
    """DESIGN.md: the cold fetch does not count against the unknown-kid limit, so a rotation seen
    seconds after start-up refetches at once and signs in."""
    rig.sign_in()
    _rotate(rig, keep_old=False)
    rig.sign_in()
    assert rig.idp.hits["jwks"] == 2


def test_a_second_rotation_inside_the_refetch_limit_is_refused_until_it_passes(rig: Rig) -> None:
    """The unknown-kid refetch does count: another unknown kid within 5 minutes of it is answered
    from the cache (refused), and accepted once the 5 minutes passed."""
    rig.sign_in()
    _rotate(rig, keep_old=False)
    rig.sign_in()
    k3 = rsa_key("hostile-k3")
    rig.idp.script.published, rig.idp.script.signing_key = [k3], k3
    rig.keys_clock.advance(REFETCH_LIMIT - 1)
    page = rig.attempt()
    rig.assert_refused(page, 401, sessions=2)
    assert failed_check(page) == "key" and rig.idp.hits["jwks"] == 2
    rig.keys_clock.advance(2)
    rig.sign_in()
    assert rig.idp.hits["jwks"] == 3


def test_a_key_published_without_use_is_a_signing_key(rig: Rig) -> None:
    """DESIGN.md: RSA keys with use "sig" or without use are signing keys (RFC 7517 4.2: OPTIONAL)."""
    rig.idp.script.jwks = lambda r: json_answer({"keys": [{k: v for k, v in K1.jwk().items() if k != "use"}]})
    rig.sign_in()


@pytest.mark.parametrize("after_start_up", [0.0, REFETCH_LIMIT + 1], ids=["at-once", "later"])
def test_unknown_kid_flood_refetches_at_most_once(rig: Rig, after_start_up: float) -> None:
    rig.sign_in()
    rig.keys_clock.advance(after_start_up)
    rig.idp.script.signing_key = ATTACKER  # kid "attacker": never published
    browsers = [rig.browser() for _ in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        pages = list(pool.map(rig.attempt, browsers))
    for page in pages:
        rig.assert_refused(page, 401, sessions=1)
        assert failed_check(page) == "key"
    assert rig.idp.hits["jwks"] == 2  # the cold fetch and one refetch, however many tokens came


def test_jwks_down_with_keys_cached_still_signs_in(rig: Rig) -> None:
    rig.sign_in()
    rig.idp.script.jwks = lambda request: raw_answer("<h1>down</h1>", 503, content_type="text/html")
    rig.keys_clock.advance(25 * 3600)  # past the keys' TTL: a refresh is tried, fails, last good keys kept
    rig.sign_in()
    assert rig.idp.hits["jwks"] == 2
    # A token with an unknown kid while the endpoint is down: refused, and the good keys survive.
    rig.keys_clock.advance(REFETCH_LIMIT + 1)
    rig.idp.script.signing_key = ATTACKER
    rig.assert_refused(rig.attempt(), 401, sessions=2)
    rig.idp.script.signing_key = K1
    rig.sign_in()
    assert any("JWKS refresh failed" in r.getMessage() for r in rig.caplog.records)


@pytest.mark.parametrize(("answer", "status"), [
    (lambda r: raw_answer("<h1>Service Unavailable</h1>", 503, content_type="text/html"), 503),
    (lambda r: json_answer({"error": "server_error"}, 500), 502),
], ids=["503-html", "500-json"])
def test_jwks_down_cold_is_a_clear_error(rig: Rig, answer: Any, status: int) -> None:
    """The key set endpoint failing at the first fetch: the sign-in service is down (try again)."""
    rig.idp.script.jwks = answer
    page = rig.attempt()
    rig.assert_refused(page, status)
    assert "sign-in service" in page.text and rig.idp.hits["token"] == 0


@pytest.mark.parametrize("answer", [
    lambda r: raw_answer("not json"),
    lambda r: json_answer({"keys": "K1"}),
    lambda r: json_answer([K1.jwk()]),
], ids=["not-json", "not-a-list", "array"])
def test_jwks_malformed_cold_is_a_502_that_does_not_say_try_again_in_a_moment(rig: Rig, answer: Any) -> None:
    """Not a key set at all: an answer this app cannot use (502); a permanent fault, so the
    page does not promise that a moment will fix it."""
    rig.idp.script.jwks = answer
    page = rig.attempt()
    rig.assert_refused(page, 502)
    assert "sign-in service" in page.text and "cannot use" in page.text and rig.idp.hits["token"] == 0
    assert "in a moment" not in page.text


@pytest.mark.parametrize("answer", [
    lambda r: json_answer({"keys": []}),
    lambda r: json_answer({"keys": [K1.jwk(use="enc")]}),
    lambda r: json_answer({"keys": [K1.jwk(alg="RS512")]}),
    lambda r: json_answer({"keys": [K1.jwk(kty="EC")]}),
    lambda r: json_answer({"keys": [rsa_key("weak", 1024).jwk(kid="hostile-k1")]}),
    lambda r: json_answer({"keys": [{"kty": "oct", "kid": "hostile-k1", "k": "c2VjcmV0"}]}),
], ids=["empty", "use-enc", "alg-rs512", "kty-ec", "rsa-1024", "oct"])
def test_jwks_without_a_usable_key_is_a_401_like_any_failed_check(rig: Rig, answer: Any) -> None:
    """DESIGN.md: any id_token check failed, "no usable key" included: 401, could not be verified,
    never "try again in a moment"."""
    rig.idp.script.jwks = answer
    page = rig.attempt()
    rig.assert_refused(page, 401)
    assert failed_check(page) == "key" and "could not be verified" in page.text
    assert "in a moment" not in page.text and rig.idp.hits["token"] == 0


def test_jwks_with_a_small_rsa_key_under_the_tenants_kid_is_not_used(rig: Rig) -> None:
    weak = rsa_key("weak", 1024)
    rig.idp.script.jwks = lambda r: json_answer({"keys": [K1.jwk(), weak.jwk(kid="weak")]})
    rig.idp.script.signing_key = weak
    page = rig.attempt()
    rig.assert_refused(page, 401)
    assert failed_check(page) == "key"


def test_jwks_oct_key_does_not_enable_hmac(rig: Rig) -> None:
    """A symmetric key in the key set is ignored, and HS256 stays refused."""
    rig.idp.script.jwks = lambda r: json_answer({"keys": [K1.jwk(), {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"}]})
    rig.idp.script.header = {"alg": "HS256", "kid": "sym"}
    rig.idp.script.hmac_key = b"secret"
    page = rig.attempt()
    rig.assert_refused(page, 401)
    assert failed_check(page) == "alg"


def test_jwks_slow_answer_hits_the_deadline(rig: Rig) -> None:
    rig.idp.script.delay = {"jwks": 10.0}
    page = rig.attempt()
    rig.assert_refused(page, 504)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_jwks_redirect_is_not_followed(rig: Rig, status: int) -> None:
    rig.idp.script.jwks = lambda r: redirect_answer(f"{rig.idp.url}/elsewhere/keys", status)
    page = rig.attempt()
    rig.assert_refused(page, "5xx")
    assert rig.idp.hits["elsewhere"] == 0


@pytest.mark.parametrize("where", ["other-host", "other-port", "https-other-host", "not-a-url"])
def test_metadata_pointing_the_keys_elsewhere_is_refused(rig: Rig, where: str) -> None:
    port = rig.idp.url.rsplit(":", 1)[1]
    jwks_uri = {
        "other-host": f"http://localhost:{port}/attacker/jwks",
        "other-port": f"http://127.0.0.1:{int(port) + 1}/attacker/jwks",
        "https-other-host": "https://attacker.example/keys",
        "not-a-url": "javascript:alert(1)",
    }[where]
    rig.idp.script.metadata = {"jwks_uri": jwks_uri}
    page = rig.attempt()
    rig.assert_refused(page, "5xx")
    assert rig.idp.hits["jku"] == 0 and rig.idp.hits["jwks"] == 0


def test_metadata_with_another_tenants_issuer_is_refused(rig: Rig) -> None:
    rig.idp.script.metadata = {"issuer": f"https://sts.windows.net/{OTHER_TENANT_ID}/"}
    rig.assert_refused(rig.attempt(), "5xx")


@pytest.mark.parametrize("status", [302, 307])
def test_metadata_redirect_is_not_followed(rig: Rig, status: int) -> None:
    rig.idp.script.metadata_answer = lambda r: redirect_answer(f"{rig.idp.url}/elsewhere/meta", status)
    rig.assert_refused(rig.attempt(), "5xx")
    assert rig.idp.hits["elsewhere"] == 0


def test_a_slow_authority_holds_a_sign_in_for_at_most_one_deadline_per_call(rig: Rig) -> None:
    """Each outbound call has its own deadline (AADWEB_HTTP_TIMEOUT); a cold hybrid sign-in makes
    at most three before a slow token endpoint (metadata, keys, token): the refusal comes within
    three deadlines, never hangs. SECURITY.md tells operators to size worker timeouts for this."""
    rig.idp.script.delay = {"metadata": HTTP_TIMEOUT * 0.7, "jwks": HTTP_TIMEOUT * 0.7, "token": 60.0}
    start = time.monotonic()
    page = rig.attempt()
    assert page.status_code == 504 and rig.store.counts()["sessions"] == 0
    assert time.monotonic() - start < 3 * HTTP_TIMEOUT + 1.0
