"""Reading configuration values: one parser per typed ``AADWEB_*`` field, and the TOML file
``AADWEB_CONFIG`` names. A parser raises ``ValueError`` with the end of a sentence that starts
with the variable's name; :meth:`aadweb.settings.Settings.from_mapping` collects them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from typing import Any, Final

from aadweb.protocol.client_assertion import ClientCertificate
from aadweb.secret import Secret

__all__ = ["PARSERS", "read_toml", "text"]


def text(raw: str) -> str | None:
    return raw or None


def _secret(kind: str) -> Callable[[str], Secret | None]:
    def parse(raw: str) -> Secret | None:
        return Secret(kind, raw) if raw else None

    return parse


def _bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(f"must be 1 or 0, not {raw!r}.")


def _int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"must be a whole number, not {raw!r}.") from None


def _float(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"must be a number, not {raw!r}.") from None


def _tenant_list(raw: str) -> tuple[str, ...]:
    return tuple(t for t in (part.strip() for part in raw.split(",")) if t)


def _scopes(raw: str) -> tuple[str, ...]:
    """AADWEB_SCOPES: scopes separated by spaces or commas (checked by Settings)."""
    return tuple(raw.replace(",", " ").split())


def _certificate(raw: str) -> ClientCertificate | None:
    if not raw:
        return None
    try:
        with open(raw, "rb") as fh:
            pem = fh.read(1 << 20)
    except OSError as exc:
        raise ValueError(f"cannot be read ({exc.strerror or exc.__class__.__name__}): {raw}") from None
    try:
        return ClientCertificate.from_pem(pem, path=raw)
    except ValueError as exc:
        raise ValueError(f"{raw} {exc}.") from None


PARSERS: Final[Mapping[str, Callable[[str], Any]]] = {
    "client_secret": _secret("client_secret"),
    "secret_key": _secret("secret_key"),
    "client_certificate": _certificate,
    "allowed_tenants": _tenant_list,
    "scopes": _scopes,
    "public_paths": _tenant_list,
    "require_roles": _tenant_list,
    "require_groups": _tenant_list,
    "route_prefix": lambda raw: raw,
    "wire_view": _bool,
    "wire_personal": _bool,
    "app_signing_keys": _bool,
    "trusted_proxy_hops": _int,
    "clock_skew": _int,
    "session_lifetime": _int,
    "session_idle": _int,
    "http_timeout": _float,
    "tenant": lambda raw: raw,
    "client_id": lambda raw: raw,
}


def read_toml(path: str, problems: list[str]) -> dict[str, str]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        problems.append(f"AADWEB_CONFIG file {path} cannot be read ({exc.strerror or exc.__class__.__name__}).")
        return {}
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"AADWEB_CONFIG file {path} is not valid TOML ({exc}).")
        return {}
    out: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, bool):
            out[key] = "1" if value else "0"
        elif isinstance(value, (str, int, float)):
            out[key] = str(value)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[key] = ",".join(value)
        else:
            problems.append(f"AADWEB_CONFIG key {key} must be a string, number, boolean or list of strings.")
    return out
