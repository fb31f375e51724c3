"""``HttpRequest.leg``: each protocol builder names the leg it describes, so the wire transcript
records it as it is instead of guessing from a URL path or a grant type."""

from __future__ import annotations

import pytest

from aadweb.protocol.graph import build_me_request
from aadweb.protocol.http import HttpRequest
from aadweb.protocol.jwks import build_jwks_request
from aadweb.protocol.metadata import build_metadata_request
from aadweb.protocol.token import ClientSecretPost, build_code_redemption, build_refresh
from aadweb.secret import Secret

ENDPOINT = "https://login.example/contoso/oauth2/token"
CREDENTIAL = ClientSecretPost(secret=Secret("client_secret", "s3cret-value"))


def test_every_builder_names_its_leg() -> None:
    redemption = build_code_redemption(
        token_endpoint=ENDPOINT, client_id="client", code=Secret("code", "the-code"),
        redirect_uri="http://localhost:5000/getAToken", resource="https://graph.microsoft.com",
        code_verifier=Secret("code_verifier", "v" * 64), credential=CREDENTIAL, now=0.0, jti="j",
        client_request_id="crid",
    )
    refresh = build_refresh(
        token_endpoint=ENDPOINT, client_id="client", refresh_token=Secret("refresh_token", "rt"),
        resource="https://graph.microsoft.com", credential=CREDENTIAL, now=0.0, jti="j", client_request_id="crid",
    )
    me = build_me_request(graph_url="https://graph.example/v1.0/me", access_token=Secret("access_token", "at"),
                          client_request_id="crid")
    assert build_metadata_request("https://login.example/contoso", client_request_id="crid").leg == "metadata"
    assert build_jwks_request("https://login.example/contoso/discovery/keys", client_request_id="crid").leg == "jwks"
    assert (redemption.leg, refresh.leg, me.leg) == ("token", "refresh", "graph")


def test_a_request_without_a_leg_is_allowed_and_a_malformed_leg_is_not() -> None:
    assert HttpRequest(method="GET", url="https://x.example/").leg is None
    for bad in ("", "Token", "a b", "x" * 33, "token\n"):
        with pytest.raises(ValueError):
            HttpRequest(method="GET", url="https://x.example/", leg=bad)
