"""Settings that have no other home for their tests: the session time limits (DESIGN.md,
Configuration contract: AADWEB_SESSION_LIFETIME, AADWEB_SESSION_IDLE)."""

from __future__ import annotations

import pytest

from aadweb.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID
from aadweb.errors import ConfigurationError
from aadweb.settings import Settings

BASE = {
    "AADWEB_TENANT": DEMO_TENANT_ID,
    "AADWEB_CLIENT_ID": DEMO_CLIENT_ID,
    "AADWEB_CLIENT_SECRET": DEMO_CLIENT_SECRET,
    "AADWEB_SECRET_KEY": "s" * 40,
}


def problems(**values: str) -> list[str]:
    try:
        Settings.from_mapping({**BASE, **{f"AADWEB_{k.upper()}": v for k, v in values.items()}})
    except ConfigurationError as exc:
        return list(exc.problems)
    return []


def test_session_limits_default_to_eight_hours_and_no_idle_limit() -> None:
    settings = Settings.from_mapping(BASE)
    assert (settings.session_lifetime, settings.session_idle) == (28800, 0)


def test_session_limits_are_read_from_the_environment() -> None:
    env = {**BASE, "AADWEB_SESSION_LIFETIME": "3600", "AADWEB_SESSION_IDLE": "900"}
    settings = Settings.from_mapping(env)
    assert (settings.session_lifetime, settings.session_idle) == (3600, 900)


@pytest.mark.parametrize("lifetime", ["0", "-1", "299", "7776001"])
def test_a_session_lifetime_out_of_bounds_is_refused(lifetime: str) -> None:
    assert problems(session_lifetime=lifetime) == [
        "AADWEB_SESSION_LIFETIME must be a whole number of seconds from 300 (5 minutes) to 7776000 (90 days)."
    ]


@pytest.mark.parametrize("idle", ["-1", "1", "59"])
def test_a_session_idle_limit_below_a_minute_is_refused(idle: str) -> None:
    assert problems(session_idle=idle) == [
        "AADWEB_SESSION_IDLE must be 0 (off) or a whole number of seconds, at least 60."
    ]


def test_an_idle_limit_longer_than_the_lifetime_is_refused_as_meaningless() -> None:
    found = problems(session_lifetime="3600", session_idle="3601")
    assert len(found) == 1 and "AADWEB_SESSION_IDLE (3601) is longer than AADWEB_SESSION_LIFETIME (3600)" in found[0]
    assert problems(session_lifetime="3600", session_idle="3600") == []


def test_session_limits_must_be_whole_numbers() -> None:
    assert problems(session_lifetime="8h", session_idle="1.5") == [
        "AADWEB_SESSION_LIFETIME must be a whole number, not '8h'.",
        "AADWEB_SESSION_IDLE must be a whole number, not '1.5'.",
    ]


def test_the_public_names_stay_importable_from_aadweb_settings() -> None:
    """settings.py is split by responsibility (clouds.py, _config_checks.py, _config_read.py,
    redact_url in secret.py); what others import from aadweb.settings is still there."""
    import aadweb.clouds
    import aadweb.secret
    import aadweb.settings

    assert sorted(aadweb.settings.__all__) == ["CLOUDS", "Cloud", "Settings", "env_values", "redact_url"]
    for name in aadweb.settings.__all__:
        assert hasattr(aadweb.settings, name), name
    assert aadweb.settings.CLOUDS is aadweb.clouds.CLOUDS and aadweb.settings.Cloud is aadweb.clouds.Cloud
    assert aadweb.settings.redact_url is aadweb.secret.redact_url
    assert aadweb.settings.redact_url("redis://u:pw@h:6379/0") == "redis://u:***@h:6379/0"


# --- AADWEB_ENDPOINT and AADWEB_SCOPES ----------------------------------------------------------


def settings(**values: str) -> Settings:
    return Settings.from_mapping({**BASE, **{f"AADWEB_{k.upper()}": v for k, v in values.items()}})


def test_v1_is_the_default_endpoint_with_the_hybrid_flow() -> None:
    s = settings()
    assert s.endpoint == "v1" and s.response_type == "code id_token" and s.scopes == ()
    assert s.token_target == "https://graph.microsoft.com"
    assert s.protocol_endpoint.issuer(DEMO_TENANT_ID) == f"https://sts.windows.net/{DEMO_TENANT_ID}/"


def test_v2_defaults_to_the_code_flow_and_user_read() -> None:
    s = settings(endpoint="v2")
    assert s.response_type == "code" and s.scopes == ("User.Read",) and s.token_target == "User.Read"
    assert settings(endpoint="v2", response_type="code id_token").response_type == "code id_token"


@pytest.mark.parametrize(("cloud", "host"), [
    ("public", "https://login.microsoftonline.com"),
    ("usgov", "https://login.microsoftonline.us"),
    ("china", "https://login.partner.microsoftonline.cn"),
])
def test_each_cloud_has_its_v2_issuer(cloud: str, host: str) -> None:
    endpoint = settings(endpoint="v2", cloud=cloud).protocol_endpoint
    assert endpoint.issuer(DEMO_TENANT_ID) == f"{host}/{DEMO_TENANT_ID}/v2.0"


def test_scopes_are_separated_by_spaces_or_commas_and_sorted_into_one_target() -> None:
    s = settings(endpoint="v2", scopes="User.Read, Mail.Read  openid")
    assert s.scopes == ("User.Read", "Mail.Read", "openid") and s.token_target == "Mail.Read User.Read"


@pytest.mark.parametrize(("values", "says"), [
    ({"endpoint": "v3"}, "AADWEB_ENDPOINT must be 'v1'"),
    ({"scopes": "User.Read"}, "AADWEB_SCOPES is for AADWEB_ENDPOINT=v2 only"),
    ({"endpoint": "v2", "scopes": "openid offline_access"}, "at least one scope"),
    ({"endpoint": "v2", "scopes": 'User"Read'}, "is not a scope"),
    ({"endpoint": "v2", "scopes": "User.Read api://aadweb-demo-api/access_as_user"}, "several resources"),
    ({"endpoint": "v2", "resource": "api://aadweb-demo-api"}, "AADWEB_RESOURCE is for AADWEB_ENDPOINT=v1 only"),
])
def test_endpoint_and_scope_problems_are_reported(values: dict[str, str], says: str) -> None:
    found = problems(**values)
    assert any(says in p for p in found), found


def test_v2_accepts_the_graph_resource_default_and_graph_scopes_by_uri() -> None:
    assert problems(endpoint="v2", resource="https://graph.microsoft.com") == []
    graph = "https://graph.microsoft.com"
    assert problems(endpoint="v2", scopes=f"{graph}/User.Read {graph}/Mail.Read") == []
