"""Faults: ways the emulated authority or Graph can misbehave, switched on by tests.

A :class:`Fault` names its ``kind``, the ``endpoint`` it applies to and how many ``times``
(None: until cleared). Each application uses up one of its times. Generic kinds act on
the HTTP answer; token kinds act when a token is minted:

======================== ============================ ==========================================
kind                     endpoints                    parameters
======================== ============================ ==========================================
error                    any                          status, error, aadsts / graph: code;
                                                      retry_after (verbatim Retry-After)
delay                    any                          seconds (real sleep before answering)
drip                     any                          chunk_bytes (1), interval (1.0 s)
redirect                 any                          status (302): Location /_emulator/redirect-target
non_json                 any                          (200 text/html)
huge                     any                          size (5 MiB of valid-looking JSON)
gzip_bomb                any                          size (5 MiB once gunzipped)
drop_field               any JSON 2xx answer          field
set_field                any JSON 2xx answer          field, value (any JSON)
id_token_claims          authorize, token (default:   claims (a None value removes the claim)
                         both)
id_token_header          authorize                    header (a None value removes it)
sign_with_unpublished_key authorize                   same_kid (False: a new kid)
signed_token_endpoint_id_token token                  (RS256 id_token instead of alg none)
token_lifetime           token                        seconds
======================== ============================ ==========================================

On ``authorize`` an ``error`` fault is sent to the redirect URI as an error callback
(after client_id and redirect_uri were validated); elsewhere it replaces the answer.
"""

from __future__ import annotations

import dataclasses
import threading
import types
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ENDPOINTS", "KINDS", "Fault", "FaultSet"]

ENDPOINTS = frozenset({"authorize", "token", "keys", "metadata", "graph", "logout"})

#: Kinds that act on the HTTP answer of any endpoint (an endpoint must be named).
_GENERIC = frozenset(
    {"error", "delay", "drip", "redirect", "non_json", "huge", "gzip_bomb",
     "drop_field", "set_field"}
)
#: Kinds that act when a token is minted: kind -> endpoints it may name (None = all).
_TOKEN_KINDS: dict[str, frozenset[str]] = {
    "id_token_claims": frozenset({"authorize", "token"}),
    "id_token_header": frozenset({"authorize"}),
    "sign_with_unpublished_key": frozenset({"authorize"}),
    "signed_token_endpoint_id_token": frozenset({"token"}),
    "token_lifetime": frozenset({"token"}),
}
KINDS = _GENERIC | frozenset(_TOKEN_KINDS)
_DEFAULT_SIZE = 5 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """One fault. Unused parameters are ignored; required ones are checked here."""

    kind: str
    endpoint: str | None = None
    times: int | None = None
    status: int | None = None
    error: str | None = None
    aadsts: int | None = None
    code: str | None = None
    retry_after: str | None = None
    seconds: float | None = None
    chunk_bytes: int = 1
    interval: float = 1.0
    size: int = _DEFAULT_SIZE
    field: str | None = None
    value: Any = None
    claims: Mapping[str, Any] | None = None
    header: Mapping[str, Any] | None = None
    same_kid: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {sorted(KINDS)}")
        if self.kind in _GENERIC:
            if self.endpoint not in ENDPOINTS:
                raise ValueError(f"fault {self.kind!r} needs endpoint in {sorted(ENDPOINTS)}")
        elif self.endpoint is not None and self.endpoint not in _TOKEN_KINDS[self.kind]:
            allowed = sorted(_TOKEN_KINDS[self.kind])
            raise ValueError(f"fault {self.kind!r} applies only to endpoints {allowed}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be None (until cleared) or at least 1")
        needs = {
            "delay": ("seconds",), "token_lifetime": ("seconds",),
            "drop_field": ("field",), "set_field": ("field",),
            "id_token_claims": ("claims",), "id_token_header": ("header",),
        }.get(self.kind, ())
        for name in needs:
            if getattr(self, name) is None:
                raise ValueError(f"fault {self.kind!r} needs {name!r}")
        if self.seconds is not None and self.seconds < 0:
            raise ValueError("seconds must not be negative")
        if self.chunk_bytes < 1 or self.interval < 0 or self.size < 2:
            raise ValueError("chunk_bytes >= 1, interval >= 0 and size >= 2 please")
        for name in ("claims", "header"):
            mapping = getattr(self, name)
            if mapping is not None:
                object.__setattr__(self, name, types.MappingProxyType(dict(mapping)))

    def applies_to(self, endpoint: str) -> bool:
        if self.endpoint is None:
            return endpoint in _TOKEN_KINDS.get(self.kind, frozenset())
        return self.endpoint == endpoint

    @classmethod
    def from_json(cls, data: object) -> Fault:
        """A fault from its JSON form: the field names above, e.g.
        ``{"kind": "error", "endpoint": "token", "times": 1, "aadsts": 70008}``."""
        if not isinstance(data, dict):
            raise ValueError("a fault is a JSON object")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(data) - set(fields)
        if unknown:
            raise ValueError(f"unknown fault parameters: {sorted(unknown)}")
        checks: dict[str, tuple[type, ...]] = {
            "kind": (str,), "endpoint": (str,), "times": (int,), "status": (int,),
            "error": (str,), "aadsts": (int,), "code": (str,), "retry_after": (str,),
            "seconds": (int, float), "chunk_bytes": (int,), "interval": (int, float),
            "size": (int,), "field": (str,), "claims": (dict,), "header": (dict,),
            "same_kid": (bool,),
        }
        for name, value in data.items():
            allowed = checks.get(name)
            if allowed is None or value is None:
                continue
            bad_bool = isinstance(value, bool) and bool not in allowed
            if bad_bool or not isinstance(value, allowed):
                raise ValueError(f"fault parameter {name!r} has the wrong type")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = dict(value) if isinstance(value, Mapping) else value
        return out


class FaultSet:
    """The active faults, in the order they were added. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[list[Any]] = []  # [fault, remaining times or None]

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._armed.append([fault, fault.times])
        return fault

    def clear(self) -> int:
        """Remove every fault; returns how many there were."""
        with self._lock:
            count = len(self._armed)
            self._armed.clear()
        return count

    def active(self) -> list[tuple[Fault, int | None]]:
        """(fault, remaining times) of every fault still armed."""
        with self._lock:
            return [(f, n) for f, n in self._armed]

    def __len__(self) -> int:
        with self._lock:
            return len(self._armed)

    def take(self, endpoint: str, kinds: Collection[str]) -> Fault | None:
        """The first armed fault of one of ``kinds`` for ``endpoint``, using up one time."""
        found = self._take(endpoint, kinds, first_only=True)
        return found[0] if found else None

    def take_all(self, endpoint: str, kinds: Collection[str]) -> list[Fault]:
        """Every armed fault of ``kinds`` for ``endpoint``, each using up one time."""
        return self._take(endpoint, kinds, first_only=False)

    def _take(self, endpoint: str, kinds: Collection[str], *, first_only: bool) -> list[Fault]:
        taken: list[Fault] = []
        with self._lock:
            for entry in list(self._armed):
                fault: Fault = entry[0]
                if fault.kind not in kinds or not fault.applies_to(endpoint):
                    continue
                taken.append(fault)
                if entry[1] is not None:
                    entry[1] -= 1
                    if entry[1] <= 0:
                        self._armed.remove(entry)
                if first_only:
                    break
        return taken

    # Conveniences for the common cases.

    def token_error(
        self, aadsts: int, *, error: str = "invalid_grant", status: int | None = None,
        times: int | None = 1,
    ) -> Fault:
        return self.add(Fault(kind="error", endpoint="token", aadsts=aadsts, error=error,
                              status=status, times=times))

    def authorize_error(
        self, error: str, *, aadsts: int | None = None, times: int | None = 1
    ) -> Fault:
        return self.add(Fault(kind="error", endpoint="authorize", error=error, aadsts=aadsts,
                              times=times))

    def graph_error(
        self, code: str, *, status: int | None = None, retry_after: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        return self.add(Fault(kind="error", endpoint="graph", code=code, status=status,
                              retry_after=retry_after, times=times))

    def delay(self, endpoint: str, seconds: float, *, times: int | None = 1) -> Fault:
        return self.add(Fault(kind="delay", endpoint=endpoint, seconds=seconds, times=times))
