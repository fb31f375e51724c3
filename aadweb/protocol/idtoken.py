"""id_token validation: OpenID Connect Core 1.0 3.1.3.7 and 3.3.2.12, for Azure AD v1.

Every check below must hold or the sign-in is refused; none can be switched off and every
expected value is a required argument. Each check leaves a :class:`~aadweb.errors.Verdict` (name, passed,
spec reference) so the wire transcript can show what was checked; a failure raises the
:class:`~aadweb.errors.TokenValidationError` subclass for that check, carrying the verdicts
so far.

Two channels carry an id_token:

* the **front channel** (hybrid flow, through the browser): RS256-signed by the tenant's key,
  with ``nonce`` and ``c_hash``. :func:`validate_front_channel` checks everything.
* the **back channel** (the token endpoint's answer). Azure AD v1 sends it unsigned
  (``alg: none``). In the hybrid flow :func:`match_back_channel` only requires it to name the
  same user and audience as the validated front-channel token. In the plain code flow it is
  the only id_token: :func:`validate_back_channel` checks its claims exactly as above, verifies
  its signature when it is signed, and accepts ``alg: none`` only when the token endpoint was
  reached over TLS or loopback (OIDC Core 3.1.3.7 (6)).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from aadweb.errors import (
    AudienceMismatch,
    AuthorizedPartyMismatch,
    BackChannelMismatch,
    ClaimMissing,
    ClaimTypeInvalid,
    CodeHashMismatch,
    IssuedInFuture,
    IssuerMismatch,
    KeyNotFound,
    KeyNotNamed,
    NonceMismatch,
    TenantMismatch,
    TenantNotAllowed,
    TokenExpired,
    TokenNotYetValid,
    TokenTooOld,
    TokenValidationError,
    UnsignedTokenRefused,
    Verdict,
)
from aadweb.protocol.endpoint import Endpoint
from aadweb.protocol.jwks import KeySet
from aadweb.protocol.jws import CompactJWS, b64url_encode, parse_compact, parse_unsigned, peek_header, verify_rs256
from aadweb.secret import Secret

__all__ = [
    "MAX_TOKEN_AGE",
    "AllowedTenants",
    "IdTokenClaims",
    "IdTokenExpectations",
    "SingleTenant",
    "ValidatedIdToken",
    "c_hash_of",
    "match_back_channel",
    "validate_back_channel",
    "validate_front_channel",
]

#: DESIGN.md: a token issued more than 24 hours ago is refused whatever its ``exp`` says
#: (OIDC Core 3.1.3.7 (10) leaves the acceptable ``iat`` range to the client).
MAX_TOKEN_AGE: Final = 24 * 3600.0

#: At most this many roles or groups are read from a token (Azure AD's overage limit is 200).
_MAX_LIST: Final = 1000
_DISPLAY_CLAIMS: Final = ("name", "upn", "unique_name", "email", "given_name", "family_name", "preferred_username")


@dataclass(frozen=True, slots=True, kw_only=True)
class SingleTenant:
    """Only this tenant (a GUID) may sign in; ``iss`` must be ``{prefix}{tenant_id}/``."""

    tenant_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AllowedTenants:
    """``common``/``organizations``: the token's own ``tid`` must be one of these GUIDs."""

    tenant_ids: frozenset[str]

    def __post_init__(self) -> None:
        if not self.tenant_ids:
            raise ValueError("a multi-tenant sign-in needs at least one allowed tenant")


@dataclass(frozen=True, slots=True, kw_only=True)
class IdTokenExpectations:
    """What the id_token must say. All fields are required: no check can be skipped."""

    client_id: str
    #: The endpoint (v1 or v2.0, in its cloud): the issuer template, ``ver``, unsigned tokens.
    endpoint: Endpoint
    tenants: SingleTenant | AllowedTenants
    nonce: Secret
    now: float
    leeway: float

    def __post_init__(self) -> None:
        if not self.client_id or not isinstance(self.endpoint, Endpoint) or not self.nonce:
            raise ValueError("client_id, an endpoint and a nonce are required")
        if not (math.isfinite(self.now) and 0 <= self.leeway <= 600):
            raise ValueError("now must be finite and leeway between 0 and 600 seconds")


@dataclass(frozen=True, slots=True, kw_only=True)
class IdTokenClaims:
    """The validated user: ``(tid, oid)`` is the key; the rest is display data."""

    tid: str
    oid: str
    sub: str
    iss: str
    aud: str
    exp: float
    iat: float
    nbf: float | None
    display: Mapping[str, str]
    #: App roles (``roles``), and group object ids (``groups``) as the token carries them.
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    #: The token had too many groups to carry them (Azure AD's overage: ``hasgroups`` on the
    #: front channel, ``_claim_names.groups`` on the back channel): ask Graph for them.
    groups_overage: bool = False

    @property
    def name(self) -> str:
        d = self.display
        return d.get("name") or d.get("upn") or d.get("unique_name") or d.get("email") or self.oid


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidatedIdToken:
    claims: IdTokenClaims
    header: Mapping[str, Any]
    verdicts: tuple[Verdict, ...]


# The checks, in the order they run, with the rule each enforces. A failure's verdicts are
# "every check before this one passed, this one failed"; a success's are all of them.
_Order = tuple[tuple[str, str], ...]
FRONT_CHANNEL_CHECKS: Final[_Order] = (
    ("format", "RFC 7515 7.1: compact JWS, strict base64url, size cap"),
    ("alg", "RFC 8725 3.1: alg pinned to RS256, no crit (RFC 7515 4.1.11)"),
    ("kid", "OIDC 10.1: the token names its key (kid or x5t), or the JWKS holds exactly one"),
    ("key", "OIDC 3.1.3.7 (6): key from the tenant's JWKS by kid, else x5t"),
    ("signature", "OIDC 3.1.3.7 (6), RFC 7518 3.3: RS256 signature"),
    ("claims", "OIDC 2: iss, sub, exp, iat present (and Azure's tid, oid); RFC 7519 2: times are numbers"),
    ("tid", "OIDC 3.1.3.7 (2): the configured or an allowed tenant"),
    ("iss", "OIDC 3.1.3.7 (2): iss exactly {prefix}{tid}/"),
    ("aud", "OIDC 3.1.3.7 (3)-(5): aud is only this client; azp, if present, too"),
    ("exp", "OIDC 3.1.3.7 (9): not expired (with leeway)"),
    ("nbf", "RFC 7519 4.1.5: if present, not before nbf (with leeway)"),
    ("iat", "OIDC 3.1.3.7 (10): not issued in the future (with leeway)"),
    ("age", "OIDC 3.1.3.7 (10): issued at most 24 hours ago (with leeway)"),
    ("nonce", "OIDC 3.1.3.7 (11): nonce equals the one sent"),
    ("c_hash", "OIDC 3.3.2.11: c_hash matches the code"),
)
BACK_CHANNEL_SIGNED_CHECKS: Final[_Order] = FRONT_CHANNEL_CHECKS[:-1]
BACK_CHANNEL_UNSIGNED_CHECKS: Final[_Order] = (
    ("format", "RFC 7519 6: unsecured JWT (alg none, empty signature)"),
    ("signature", "OIDC 3.1.3.7 (6): unsigned, accepted only from the token endpoint over TLS or loopback"),
    *FRONT_CHANNEL_CHECKS[[name for name, _ in FRONT_CHANNEL_CHECKS].index("claims"):-1],
)
_PASSED: Final[dict[_Order, tuple[Verdict, ...]]] = {
    order: tuple(Verdict(check, True, ref) for check, ref in order)
    for order in (FRONT_CHANNEL_CHECKS, BACK_CHANNEL_SIGNED_CHECKS, BACK_CHANNEL_UNSIGNED_CHECKS)
}


def _fail(exc: TokenValidationError, check: str, order: _Order) -> TokenValidationError:
    """Attach the verdicts to ``exc``: the checks before ``check`` passed, ``check`` failed."""
    index = next(i for i, (name, _) in enumerate(order) if name == check)
    exc.verdicts = (*_PASSED[order][:index], Verdict(check, False, order[index][1], str(exc)))
    return exc


def _utf8(text: str) -> bytes:
    # JSON can carry a lone surrogate ("\ud800"); it must compare unequal, never raise.
    return text.encode("utf-8", "surrogatepass")


def c_hash_of(code: str) -> str:
    """OIDC Core 3.3.2.11: base64url of the left half of SHA-256 of the code's ASCII octets."""
    return b64url_encode(hashlib.sha256(code.encode("ascii", "strict")).digest()[:16])


def validate_front_channel(
    token: Secret, *, keys: KeySet, expected: IdTokenExpectations, code: Secret
) -> ValidatedIdToken:
    """Validate a hybrid-flow id_token from the authorize callback (OIDC Core 3.3.2.12).

    Raises :class:`KeyNotFound` when the ``kid`` is not in ``keys``: the caller may refresh
    the key set (rate-limited) and call again.
    """
    order = FRONT_CHANNEL_CHECKS
    jws = _parse_signed(token, order)
    _verify(jws, keys, order)
    claims = _check_claims(jws.payload, expected, order)
    # OIDC Core 3.3.2.11: c_hash is REQUIRED in the hybrid flow and must match the code.
    c_hash = jws.payload.get("c_hash")
    if not isinstance(c_hash, str) or not hmac.compare_digest(_utf8(c_hash), c_hash_of(code.reveal()).encode()):
        raise _fail(CodeHashMismatch("c_hash is missing or does not match the code"), "c_hash", order)
    return ValidatedIdToken(claims=claims, header=jws.header, verdicts=_PASSED[order])


def validate_back_channel(
    token: Secret, *, keys: KeySet, expected: IdTokenExpectations, channel_is_secure: bool
) -> ValidatedIdToken:
    """Validate the token endpoint's id_token in the plain code flow (OIDC Core 3.1.3.7).

    A signed token is verified against ``keys``. An unsigned (``alg: none``) token is accepted
    only because it came straight from the token endpoint over TLS or loopback (3.1.3.7 (6)),
    and the verdicts say so.
    """
    if peek_header(token.reveal()).get("alg") == "none":
        order = BACK_CHANNEL_UNSIGNED_CHECKS
        if not expected.endpoint.allows_unsigned_id_token:
            # v2.0 signs every id_token: an unsigned one is forged or broken, whatever the channel
            raise _fail(UnsignedTokenRefused("an unsigned id_token from the v2.0 endpoint, which signs every one"),
                        "signature", order)
        if not channel_is_secure:
            raise _fail(UnsignedTokenRefused("an unsigned id_token over an insecure channel"), "signature", order)
        try:
            jws = parse_unsigned(token.reveal())
        except TokenValidationError as exc:
            raise _fail(exc, "format", order) from None
    else:
        order = BACK_CHANNEL_SIGNED_CHECKS
        jws = _parse_signed(token, order)
        _verify(jws, keys, order)
    claims = _check_claims(jws.payload, expected, order)
    return ValidatedIdToken(claims=claims, header=jws.header, verdicts=_PASSED[order])


def match_back_channel(token: Secret, validated: IdTokenClaims) -> Verdict:
    """Hybrid flow: the token endpoint's id_token must name the same user and client.

    OIDC Core 3.3.3.6: if an id_token is returned from both endpoints, its ``iss`` and ``sub``
    must be identical; Azure AD v1's back-channel token is unsigned, so we compare the claims
    that identify the user and the client rather than trusting it for anything else.
    """
    reference = "OIDC 3.3.3.6: same tid, oid, aud, iss, sub as the validated id_token"
    try:
        alg = peek_header(token.reveal()).get("alg")
        jws = parse_unsigned(token.reveal()) if alg == "none" else parse_compact(token.reveal(), alg=str(alg))
    except TokenValidationError as exc:
        exc.verdicts = (Verdict("back-channel match", False, reference, str(exc)),)
        raise
    p = jws.payload
    for claim, want in (("tid", validated.tid), ("oid", validated.oid), ("aud", validated.aud),
                        ("iss", validated.iss), ("sub", validated.sub)):
        got = p.get(claim)
        if got != want and not (claim == "aud" and got == [want]):
            mismatch = BackChannelMismatch(f"the token endpoint's id_token names another {claim}", claim=claim)
            mismatch.verdicts = (Verdict("back-channel match", False, reference, str(mismatch)),)
            raise mismatch
    return Verdict("back-channel match", True, reference)


# --- steps --------------------------------------------------------------------------------


def _parse_signed(token: Secret, order: _Order) -> CompactJWS:
    try:
        return parse_compact(token.reveal(), alg="RS256")
    except TokenValidationError as exc:
        raise _fail(exc, exc.check, order) from None


def _verify(jws: CompactJWS, keys: KeySet, order: _Order) -> None:
    # The key comes only from the tenant's JWKS, by kid then x5t; jku/jwk/x5u/x5c are ignored.
    header = jws.header
    if "kid" in header or "x5t" in header:
        key = keys.find(header)
        if key is None:
            raise _fail(KeyNotFound("the token's kid is not in the tenant's key set"), "key", order)
    else:
        # OIDC Core 10.1: without a kid, the set's one signing key; with several a kid is REQUIRED.
        key = keys.only_key
        if key is None:
            raise _fail(KeyNotNamed(f"the token names no key (no kid or x5t) and the tenant's key set "
                                    f"holds {len(keys.keys)} signing keys"), "kid", order)
    try:
        verify_rs256(jws, key.key)
    except TokenValidationError as exc:
        raise _fail(exc, "signature", order) from None


def _claim_error(payload: Mapping[str, Any], order: _Order) -> TokenValidationError:
    """The precise error for the first required claim that is missing or mistyped."""
    for claim in _STRING_CLAIMS:
        value = payload.get(claim)
        if value is None:
            return _fail(ClaimMissing(f"the '{claim}' claim is missing", claim=claim), "claims", order)
        if not isinstance(value, str) or not value:
            return _fail(ClaimTypeInvalid(f"the '{claim}' claim is not a non-empty string", claim=claim), "claims",
                         order)
    for claim in _TIME_CLAIMS:
        value = payload.get(claim)
        if value is None:
            return _fail(ClaimMissing(f"the '{claim}' claim is missing", claim=claim), "claims", order)
        if not _is_numeric_date(value):
            return _fail(ClaimTypeInvalid(f"the '{claim}' claim is not a finite number", claim=claim), "claims", order)
    if "nbf" in payload and not _is_numeric_date(payload["nbf"]):
        return _fail(ClaimTypeInvalid("the 'nbf' claim is not a finite number", claim="nbf"), "claims", order)
    raise AssertionError("unreachable: every claim is well-formed")


_STRING_CLAIMS: Final = ("iss", "tid", "oid", "sub")
_TIME_CLAIMS: Final = ("exp", "iat")  # nbf is optional (OIDC Core 2 does not require it)


def _is_numeric_date(value: object) -> bool:
    # RFC 7519 2 NumericDate: a JSON number. Not a bool, not a string, not Infinity (1e400).
    return (type(value) is int) or (type(value) is float and math.isfinite(value))


def _check_claims(payload: Mapping[str, Any], expected: IdTokenExpectations, order: _Order) -> IdTokenClaims:
    get = payload.get
    iss, tid, oid, sub = get("iss"), get("tid"), get("oid"), get("sub")
    exp, nbf, iat = get("exp"), get("nbf"), get("iat")
    # OIDC Core 2: iss, sub, aud, exp, iat are REQUIRED (nbf is not: RFC 7519 4.1.5 makes it
    # OPTIONAL, and it is checked only when present); Azure AD: tid and oid identify the user.
    if not (
        type(iss) is str and iss and type(tid) is str and tid and type(oid) is str and oid
        and type(sub) is str and sub and _is_numeric_date(exp) and _is_numeric_date(iat)
        and ("nbf" not in payload or _is_numeric_date(nbf))
    ):
        raise _claim_error(payload, order)
    assert isinstance(exp, int | float) and isinstance(iat, int | float) and isinstance(nbf, int | float | None)

    # Azure AD: the tenant is the token's tid; it must be ours, or on the allowed list.
    tenants = expected.tenants
    if isinstance(tenants, SingleTenant):
        if tid != tenants.tenant_id:
            raise _fail(TenantMismatch("the token comes from another tenant"), "tid", order)
    elif tid not in tenants.tenant_ids:
        raise _fail(TenantNotAllowed("the token's tenant is not allowed"), "tid", order)
    # OIDC Core 3.1.3.7 (2): iss MUST exactly match the issuer (v1: https://sts.windows.net/{tid}/,
    # v2.0: https://login.microsoftonline.com/{tid}/v2.0; the tid is the one checked above).
    if iss != expected.endpoint.issuer(tid):
        raise _fail(IssuerMismatch("the token's issuer is not the expected one"), "iss", order)
    # Azure: ver names the endpoint that issued the token (v1 tokens may omit it).
    ver = get("ver")
    if ver != expected.endpoint.version and not (ver is None and not expected.endpoint.is_v2):
        raise _fail(IssuerMismatch("the token's version (ver) is not the endpoint's"), "iss", order)

    _check_audience(get("aud"), get("azp"), expected.client_id, order)

    now, leeway = expected.now, expected.leeway
    # OIDC Core 3.1.3.7 (9): the current time MUST be before exp (leeway for clock skew).
    if now >= exp + leeway:
        raise _fail(TokenExpired("the token has expired"), "exp", order)
    # RFC 7519 4.1.5: if nbf is present, not before it; OIDC Core 3.1.3.7 (10): iat not in the future.
    if nbf is not None and nbf > now + leeway:
        raise _fail(TokenNotYetValid("the token is not valid yet (nbf)"), "nbf", order)
    if iat > now + leeway:
        raise _fail(IssuedInFuture("the token was issued in the future (iat)"), "iat", order)
    # OIDC Core 3.1.3.7 (10): the client may reject tokens issued too long ago; DESIGN.md: 24 hours,
    # whatever exp says (a replayed old token with a far exp is refused).
    if iat < now - MAX_TOKEN_AGE - leeway:
        raise _fail(TokenTooOld("the token was issued more than 24 hours ago (iat)"), "age", order)

    # OIDC Core 3.1.3.7 (11): the nonce MUST be present and equal the one sent.
    nonce = get("nonce")
    if type(nonce) is not str or not hmac.compare_digest(_utf8(nonce), _utf8(expected.nonce.reveal())):
        raise _fail(NonceMismatch("the token's nonce is missing or wrong"), "nonce", order)

    display = {k: v for k in _DISPLAY_CLAIMS if type(v := get(k)) is str}
    return IdTokenClaims(
        tid=tid, oid=oid, sub=sub, iss=iss, aud=expected.client_id, exp=exp, iat=iat, nbf=nbf, display=display,
        roles=_strings(get("roles")), groups=_strings(get("groups")), groups_overage=_overage(payload),
    )


def _strings(value: object) -> tuple[str, ...]:
    """A claim that is a list of strings (``roles``, ``groups``); anything else reads as none."""
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if type(item) is str and 0 < len(item) <= 256)[:_MAX_LIST]


def _overage(payload: Mapping[str, Any]) -> bool:
    """Azure AD's groups overage claim: ``hasgroups: true`` (a token from the authorize endpoint)
    or ``_claim_names: {"groups": ...}`` (from the token endpoint): the groups are not in it."""
    names = payload.get("_claim_names")
    return payload.get("hasgroups") is True or (isinstance(names, dict) and "groups" in names)


def _check_audience(aud: object, azp: object, client_id: str, order: _Order) -> None:
    # OIDC Core 3.1.3.7 (3): aud MUST contain client_id, and a token with other, untrusted
    # audiences MUST be rejected. We trust no audience but ourselves.
    if aud == client_id or aud == [client_id]:
        pass
    elif aud is None:
        raise _fail(ClaimMissing("the 'aud' claim is missing", claim="aud"), "aud", order)
    elif not (type(aud) is str or (type(aud) is list and all(type(a) is str for a in aud))):
        raise _fail(ClaimTypeInvalid("the 'aud' claim is not a string or a list of strings", claim="aud"), "aud",
                    order)
    else:
        raise _fail(AudienceMismatch("the token is not meant for this application"), "aud", order)
    # OIDC Core 3.1.3.7 (4)-(5): if azp is present it MUST be our client_id.
    if azp is not None and azp != client_id:
        raise _fail(AuthorizedPartyMismatch("the token's azp is another application"), "aud", order)
