"""Allowlist redaction for the wire transcript: only names known to be public are shown in clear.

Every form field, query parameter, header, JSON member and JWT claim is looked up by name in
one of the allowlists (:mod:`aadweb.transcript.allowlist`). A name on a list keeps its value
(when the value is a scalar, or a list of scalars); anything else, including a listed name
holding an object, is replaced by a fingerprint ``«kind:sha256-prefix len=N»`` whose kind is
the name. There is no path that writes an unknown value in clear, so a new secret field cannot
be forgotten (``tests/wire`` checks it with generated bodies).

Personal values (``login_hint``, the Graph ``/me`` values, the name/upn/email/oid claims) are
shown only when ``personal=True`` (``AADWEB_WIRE_PERSONAL=1``). Otherwise they are *withheld*
(``«kind:withheld len=N»``) rather than fingerprinted: they are guessable, and an unsalted
hash of a UPN would let anyone holding the transcript confirm a guess.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from aadweb.secret import fingerprint
from aadweb.transcript.allowlist import (
    COOKIE_ATTRIBUTES,
    ERROR_CLEAR,
    FORM_CLEAR,
    GRAPH_ERROR_CLEAR,
    GRAPH_INNER_CLEAR,
    GRAPH_ME_CLEAR,
    HEADER_CLEAR,
    JWKS_KEY_CLEAR,
    JWKS_SHORTENED,
    JWT_CLAIMS_CLEAR,
    JWT_HEADER_CLEAR,
    METADATA_CLEAR,
    PERSONAL_CLAIMS,
    PERSONAL_FIELDS,
    SCHEMAS,
    TOKEN_CLEAR,
)

__all__ = [
    "COOKIE_ATTRIBUTES",
    "ERROR_CLEAR",
    "FORM_CLEAR",
    "GRAPH_ERROR_CLEAR",
    "GRAPH_INNER_CLEAR",
    "HEADER_CLEAR",
    "JWKS_KEY_CLEAR",
    "JWT_CLAIMS_CLEAR",
    "JWT_HEADER_CLEAR",
    "METADATA_CLEAR",
    "PERSONAL_CLAIMS",
    "SCHEMAS",
    "TOKEN_CLEAR",
    "Redactor",
    "fp",
    "withheld",
]

_MAX_CLEAR: Final = 2048
_MAX_JWT: Final = 64 * 1024
_MAX_NAMES_LISTED: Final = 64
_KIND: Final = re.compile(r"[A-Za-z0-9_.#@-]{1,40}")
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9._~+-]{0,30}")
# Text that needs no percent-encoding in a query value (RFC 3986 unreserved, plus ':' and '/').
_PLAIN: Final = re.compile(r"[A-Za-z0-9_.~:/-]{0,2048}")
_PLAIN_PATH: Final = re.compile(r"[A-Za-z0-9_.~:/@!$&'()*+,;=%-]{0,2048}")

Scalar = str | int | float | bool | None


def _kind(name: str) -> str:
    """A fingerprint kind from a field name: the name itself when it is plain, else "field"."""
    return name if _KIND.fullmatch(name) else "field"


def fp(kind: str, value: str | bytes) -> str:
    """``«kind:sha256-prefix len=N»`` (the kind sanitised so it can sit in a URL or a header)."""
    return fingerprint(_kind(kind), value)


def withheld(kind: str, value: str | bytes) -> str:
    """A personal value, not shown: ``«kind:withheld len=N»`` (no hash: it could be guessed)."""
    size = len(value.encode("utf-8") if isinstance(value, str) else value)
    return f"\u00ab{_kind(kind)}:withheld len={size}\u00bb"


def _name(name: str) -> str:
    """A field, cookie or header *name* as written: in clear only when it is short and plain.

    A value can be sent where a name goes (``/getAToken?<token>``, a form field or cookie with
    no ``=``), so a name that does not look like one is fingerprinted like any value.
    """
    return name if _KIND.fullmatch(name) else fingerprint("field", name)


def _clip(value: str) -> str:
    return value if len(value) <= _MAX_CLEAR else f"{value[:_MAX_CLEAR]}\u2026(+{len(value) - _MAX_CLEAR})"


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _clear(value: object) -> Any:
    """A value allowed in clear: scalars, or a flat list of scalars (strings clipped)."""
    if isinstance(value, str):
        return _clip(value)
    if _is_scalar(value):
        return value
    assert isinstance(value, list)
    return [_clip(v) if isinstance(v, str) else v for v in value]


def _clearable(value: object) -> bool:
    return _is_scalar(value) or (isinstance(value, list) and len(value) <= 256 and all(map(_is_scalar, value)))


def _hidden(name: str, value: object) -> str:
    raw = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return fp(name, raw)


def _b64json(segment: str) -> object:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        return None


class Redactor:
    """Redacts one kind of thing at a time; ``jwts`` collects id_token summaries as it goes.

    Use one :class:`Redactor` per record (it is cheap): ``jwts`` maps where an id_token was
    found (``"request.form.id_token"``, ``"response.json.id_token"``) to its summary.
    """

    __slots__ = ("jwts", "personal")

    def __init__(self, *, personal: bool = False) -> None:
        self.personal = personal
        self.jwts: dict[str, dict[str, Any]] = {}

    # --- form fields and query parameters -----------------------------------------------

    def field(self, name: str, value: str, *, where: str = "") -> str:
        if name in FORM_CLEAR:
            return _clip(value)
        if name in PERSONAL_FIELDS:
            return _clip(value) if self.personal else withheld(name, value)
        if name == "id_token" and where:
            self.jwts[f"{where}.id_token"] = self.jwt(value)
        return fp(name, value)

    def fields(self, pairs: Iterable[tuple[str, str]], *, where: str = "") -> dict[str, str | list[str]]:
        """A form or query as ``{name: value}`` (a repeated name keeps every value, as a list)."""
        out: dict[str, str | list[str]] = {}
        for name, value in pairs:
            shown = self.field(name, value, where=where)
            key = _name(name)
            previous = out.get(key)
            if previous is None:
                out[key] = shown
            elif isinstance(previous, list):
                previous.append(shown)
            else:
                out[key] = [previous, shown]
        return out

    def url(self, url: str, *, where: str = "") -> str:
        """``url`` with user info dropped and each query/fragment value redacted by :meth:`field`.

        Clear values are re-encoded; fingerprints are left as they are, to be read.
        """
        try:
            parts = urlsplit(url)
            netloc = parts.netloc
            if "@" in netloc:  # user info is a credential: drop it
                host, port = parts.hostname, parts.port
                netloc = (f"[{host}]" if host and ":" in host else (host or "")) + (f":{port}" if port else "")
        except ValueError:
            return fp("url", url)
        if not (parts.query or parts.fragment or "@" in parts.netloc) and _PLAIN_PATH.fullmatch(parts.path):
            return url
        query = self._query(parts.query, where=where)
        fragment = self._query(parts.fragment, where=f"{where}.fragment" if where else "")
        path = parts.path if _PLAIN_PATH.fullmatch(parts.path) else quote(parts.path, safe="/%:@!$&'()*+,;=~-._")
        return urlunsplit((parts.scheme, netloc, path, query, fragment))

    def _query(self, query: str, *, where: str) -> str:
        if not query:
            return ""
        pairs = parse_qsl(query, keep_blank_values=True)
        shown: list[str] = []
        for name, value in pairs:
            redacted = self.field(name, value, where=where)
            if (name in FORM_CLEAR or (name in PERSONAL_FIELDS and self.personal)) and not _PLAIN.fullmatch(redacted):
                redacted = quote(redacted, safe=":/")
            shown.append(f"{_name(name)}={redacted}")
        return "&".join(shown)

    # --- headers --------------------------------------------------------------------------

    def headers(self, pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
        """``[[lower-case name, shown value], ...]`` in order, repeats kept (Set-Cookie)."""
        shown: list[list[str]] = []
        for name, value in pairs:
            lowered = name.lower()
            if lowered in HEADER_CLEAR:  # the common case first
                shown.append([lowered, value if len(value) <= _MAX_CLEAR else _clip(value)])
            else:
                shown.append([_name(lowered), self.header(lowered, value)])
        return shown

    def header(self, name: str, value: str) -> str:
        lowered = name.lower()
        if lowered == "authorization":
            scheme, _, credential = value.partition(" ")
            if not credential or not _SCHEME.fullmatch(scheme):
                return fp("authorization", value)
            kind = {"bearer": "access_token", "basic": "client_secret_basic"}.get(scheme.lower(), "authorization")
            return f"{scheme} {fp(kind, credential.strip())}"
        if lowered == "cookie":
            return "; ".join(self._cookie(part.strip()) for part in value.split(";") if part.strip())
        if lowered == "set-cookie":
            return self._set_cookie(value)
        if lowered == "location":
            return self.url(value, where="response.location")
        if lowered in HEADER_CLEAR:
            return _clip(value)
        return fp(lowered, value)

    @staticmethod
    def _cookie(pair: str) -> str:
        name, eq, value = pair.partition("=")
        if not eq:
            return fp("cookie", pair)
        return f"{_name(name.strip())}={fp('cookie', value.strip())}"

    def _set_cookie(self, value: str) -> str:
        first, *attributes = value.split(";")
        shown = [self._cookie(first.strip())]
        for attribute in attributes:
            attr_name, eq, attr_value = attribute.strip().partition("=")
            if attr_name.lower() in COOKIE_ATTRIBUTES:
                shown.append(_clip(attribute.strip()))
            elif attr_name:
                shown.append(f"{_name(attr_name)}={fp(attr_name, attr_value)}" if eq else fp("cookie-attribute",
                                                                                            attr_name))
        return "; ".join(shown)

    # --- JSON bodies ----------------------------------------------------------------------

    def json(self, schema: str, value: object, *, where: str = "response.json") -> Any:
        """A parsed JSON body redacted by ``schema`` (one of :data:`SCHEMAS`).

        The top level must be an object; anything else becomes one fingerprint.
        """
        if not isinstance(value, dict):
            return _hidden("body", value)
        if schema == "token":
            return self._object(value, TOKEN_CLEAR, where=where)
        if schema == "oauth_error":
            return self._object(value, ERROR_CLEAR, where=where)
        if schema == "metadata":
            return self._object(value, METADATA_CLEAR, where=where)
        if schema == "jwks":
            return self._jwks(value)
        if schema == "graph_me":
            return self._graph_me(value)
        if schema == "graph_error":
            return self._graph_error(value)
        return _hidden("body", value)

    def _object(self, value: Mapping[str, object], clear: frozenset[str], *, where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, member in value.items():
            if name in clear and _clearable(member):
                out[_name(name)] = _clear(member)
            else:
                if name == "id_token" and isinstance(member, str):
                    self.jwts[f"{where}.id_token"] = self.jwt(member)
                out[_name(name)] = _hidden(name, member)
        return out

    def _jwks(self, value: Mapping[str, object]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, member in value.items():
            if name == "keys" and isinstance(member, list) and len(member) <= 100:
                out["keys"] = [self._jwk(key) if isinstance(key, dict) else _hidden("key", key) for key in member]
            else:
                out[_name(name)] = _hidden(name, member)
        return out

    @staticmethod
    def _jwk(key: Mapping[str, object]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, member in key.items():
            if name in JWKS_KEY_CLEAR and _clearable(member):
                out[_name(name)] = _clear(member)
            elif name in JWKS_SHORTENED and isinstance(member, str):
                out[name] = _shortened(member)
            elif name in JWKS_SHORTENED and isinstance(member, list) and all(isinstance(m, str) for m in member):
                out[name] = [_shortened(str(m)) for m in member]
            else:
                out[_name(name)] = _hidden(name, member)
        return out

    def _graph_me(self, value: Mapping[str, object]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, member in value.items():
            if (name in GRAPH_ME_CLEAR or self.personal or member is None) and _clearable(member):
                out[_name(name)] = _clear(member)
            elif self.personal:
                out[_name(name)] = _hidden(name, member)
            else:
                out[_name(name)] = withheld(name, member if isinstance(member, str) else json.dumps(member))
        return out

    def _graph_error(self, value: Mapping[str, object]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, member in value.items():
            if name == "error" and isinstance(member, dict):
                envelope: dict[str, Any] = {}
                for key, item in member.items():
                    if key in GRAPH_ERROR_CLEAR and _clearable(item):
                        envelope[_name(key)] = _clear(item)
                    elif key.lower() == "innererror" and isinstance(item, dict):
                        envelope[key] = {
                            _name(k): _clear(v) if k in GRAPH_INNER_CLEAR and _clearable(v) else _hidden(k, v)
                            for k, v in item.items()
                        }
                    else:
                        envelope[_name(key)] = _hidden(key, item)
                out["error"] = envelope
            else:
                out[_name(name)] = _hidden(name, member)
        return out

    # --- JWTs ------------------------------------------------------------------------------

    def jwt(self, token: str) -> dict[str, Any]:
        """An id_token summary: its fingerprint, public header fields and non-personal claims,
        whether ``nonce`` and ``c_hash`` are present, and the names of the other claims."""
        summary: dict[str, Any] = {"fingerprint": fp("id_token", token)}
        parts = token.split(".")
        header = _b64json(parts[0]) if len(parts) == 3 and len(token) <= _MAX_JWT else None
        payload = _b64json(parts[1]) if header is not None else None
        if not isinstance(header, dict) or not isinstance(payload, dict):
            summary["malformed"] = True
            return summary
        summary["header"] = {k: _clear(v) for k, v in header.items() if k in JWT_HEADER_CLEAR and _clearable(v)}
        summary["signed"] = bool(parts[2])
        shown = JWT_CLAIMS_CLEAR | (PERSONAL_CLAIMS if self.personal else frozenset())
        summary["claims"] = {k: _clear(v) for k, v in payload.items() if k in shown and _clearable(v)}
        summary["nonce"] = "present" if "nonce" in payload else "absent"
        summary["c_hash"] = "present" if "c_hash" in payload else "absent"
        others = sorted(_name(k) for k in payload if k not in summary["claims"] and k not in ("nonce", "c_hash"))
        summary["other_claims"] = others[:_MAX_NAMES_LISTED]
        return summary


def _shortened(value: str) -> str:
    """A long public value (an RSA modulus, a certificate) cut to its first 16 characters."""
    return value if len(value) <= 24 else f"{value[:16]}\u2026({len(value)} chars)"
