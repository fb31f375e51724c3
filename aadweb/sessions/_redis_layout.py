"""What the redis store keeps in Redis: keys, value formats, and the Lua scripts that read them.

Keys (``P`` is the prefix, ``aadweb:`` by default)::

    P pending: <state>            string   a pending sign-in
    P session: <session_id>       hash     a session
    P lock:refresh: <session_id>  string   the refresh lock of a session

**Logical expiry first.** Every value carries its expiry on the *store's* clock: a string value
starts with ``<expires_at>\\n``, a session hash has an ``expires_at`` field. Reads and the Lua
scripts compare it with the caller's ``clock()`` (passed in as an argument), which makes it the
expiry the contract means, and lets tests move time without sleeping. Redis's own TTL (real
time: ``max(expires_at - clock(), 1 s) + GC_MARGIN``) only collects the garbage afterwards.

Values:

* pending sign-in: ``<expires_at>\\n<json>`` and, once a callback is stashed, ``\\n<b64>``.
  The JSON has ``browser_id``, ``return_path``, ``response_type``, ``created_at`` and
  ``secrets``: nonce and PKCE verifier, AES-GCM sealed (``aadweb.sessions._codec``), base64.
  The last line is the stashed callback fields, sealed, base64. JSON and base64 hold no raw
  newline, so the lines are unambiguous, also to Lua.
* session: hash fields ``created_at``, ``expires_at``, ``last_seen`` (float text; with an idle
  limit, the session also ends ``idle_limit`` seconds after it), ``claims``
  (JSON, display data), ``tokens`` (sealed; absent when ``None``), ``csrf`` (sealed),
  ``flow_id``, ``version`` (integer text). A hash, so that ``last_seen`` and the CAS on
  ``version`` + ``tokens`` are separate field writes that cannot overwrite each other.
* lock: ``<expires_at>\\n<owner>``, a random owner token per taker.

Floats are written with ``repr`` (exact round trip) and read by Lua's ``tonumber``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from typing import Any, Final

from ._codec import SealedPending, SealedSession, open_pending, open_session, seal_fields, seal_pending, seal_session
from ._crypto import CiphertextInvalid, TokenCipher
from ._model import PendingSignIn, SessionRecord

__all__ = [
    "GC_MARGIN",
    "Keys",
    "decode_pending",
    "decode_session",
    "encode_pending",
    "encode_session",
    "lock_value",
    "ttl_ms",
]

#: Seconds Redis keeps a key beyond its logical expiry: the logical check decides, the TTL
#: only collects. The margin absorbs clock differences between the hosts of one deployment.
GC_MARGIN: Final = 60.0
_MIN_TTL: Final = 1.0
_MAX_TTL: Final = 100 * 365 * 86400.0


def ttl_ms(seconds_left: float) -> int:
    """The Redis TTL (PX, milliseconds) of a key whose logical expiry is ``seconds_left`` away
    (capped at a century: Redis refuses an expiry past 2**63 ms)."""
    return math.ceil((min(max(seconds_left, _MIN_TTL), _MAX_TTL) + GC_MARGIN) * 1000)


def _num(value: float) -> bytes:
    return repr(float(value)).encode("ascii")


class Keys:
    """The key names under one prefix, and the SCAN pattern that finds them all."""

    __slots__ = ("_prefix", "pattern")

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix.encode("utf-8")
        escaped = "".join("\\" + ch if ch in "\\*?[]" else ch for ch in prefix)
        self.pattern = escaped.encode("utf-8") + b"*"

    def pending(self, state: str) -> bytes:
        return self._prefix + b"pending:" + state.encode("utf-8")

    def session(self, session_id: str) -> bytes:
        return self._prefix + b"session:" + session_id.encode("utf-8")

    def lock(self, name: str) -> bytes:
        return self._prefix + b"lock:" + name.encode("utf-8")

    def kind(self, key: bytes) -> str | None:
        """``"pending"``, ``"sessions"`` or ``"locks"`` (the :meth:`counts` names), or ``None``."""
        if not key.startswith(self._prefix):
            return None
        rest = key[len(self._prefix) :]
        for head, name in ((b"pending:", "pending"), (b"session:", "sessions"), (b"lock:", "locks")):
            if rest.startswith(head):
                return name
        return None


# --- values -------------------------------------------------------------------------------


def _b64(blob: bytes) -> bytes:
    return base64.b64encode(blob)


def _unb64(text: Any) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise CiphertextInvalid("stored ciphertext is not valid base64") from exc


def encode_pending(cipher: TokenCipher, pending: PendingSignIn, expires_at: float) -> bytes:
    p = seal_pending(cipher, pending)
    doc = {
        "browser_id": p.browser_id,
        "return_path": p.return_path,
        "response_type": p.response_type,
        "created_at": p.created_at,
        "secrets": _b64(p.secrets).decode("ascii"),
    }
    value = _num(expires_at) + b"\n" + json.dumps(doc, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    if p.callback is not None:
        value += b"\n" + _b64(p.callback)
    return value


def seal_callback(cipher: TokenCipher, state: str, fields: Mapping[str, str]) -> bytes:
    """The line :data:`STASH_CALLBACK` appends to a pending sign-in."""
    return _b64(seal_fields(cipher, state, fields))


def split_pending(value: bytes) -> tuple[float, dict[str, Any], bytes | None]:
    """``(expires_at, plain fields, sealed callback or None)`` without decrypting anything."""
    lines = value.split(b"\n")
    try:
        expires_at = float(lines[0])
        doc = json.loads(lines[1])
    except (IndexError, ValueError) as exc:
        raise CiphertextInvalid("stored pending sign-in is malformed") from exc
    if not isinstance(doc, dict) or len(lines) > 3 or not math.isfinite(expires_at):
        raise CiphertextInvalid("stored pending sign-in is malformed")
    return expires_at, doc, (lines[2] if len(lines) == 3 else None)


def decode_pending(cipher: TokenCipher, state: str, doc: dict[str, Any], callback: bytes | None) -> PendingSignIn:
    """The pending sign-in from :func:`split_pending`'s parts; CiphertextInvalid or ValueError."""
    try:
        sealed = SealedPending(
            state=state,
            browser_id=doc["browser_id"],
            return_path=doc["return_path"],
            response_type=doc["response_type"],
            created_at=doc["created_at"],
            secrets=_unb64(doc.get("secrets")),
            callback=None if callback is None else _unb64(callback),
        )
    except KeyError as exc:
        raise CiphertextInvalid("stored pending sign-in is malformed") from exc
    return open_pending(cipher, sealed)


def encode_session(cipher: TokenCipher, r: SessionRecord) -> dict[bytes, bytes]:
    s = seal_session(cipher, r)
    fields = {
        b"created_at": _num(s.created_at),
        b"expires_at": _num(s.expires_at),
        b"last_seen": _num(s.last_seen),
        b"claims": s.claims.encode("utf-8"),
        b"csrf": s.csrf,
        b"flow_id": s.flow_id.encode("utf-8"),
        b"version": str(s.version).encode("ascii"),
    }
    if s.tokens is not None:
        fields[b"tokens"] = s.tokens
    return fields


def session_expires_at(fields: Mapping[bytes, bytes]) -> float:
    try:
        return float(fields[b"expires_at"])
    except (KeyError, ValueError) as exc:
        raise CiphertextInvalid("stored session is malformed") from exc


def session_last_seen(fields: Mapping[bytes, bytes]) -> float:
    try:
        return float(fields[b"last_seen"])
    except (KeyError, ValueError) as exc:
        raise CiphertextInvalid("stored session is malformed") from exc


def decode_session(cipher: TokenCipher, session_id: str, fields: Mapping[bytes, bytes]) -> SessionRecord:
    """The session from its hash fields; CiphertextInvalid or ValueError if they are not one."""
    try:
        created_at, last_seen = float(fields[b"created_at"]), float(fields[b"last_seen"])
        claims, flow_id = fields[b"claims"].decode("utf-8"), fields[b"flow_id"].decode("utf-8")
        version, csrf = int(fields[b"version"]), fields[b"csrf"]
    except KeyError as exc:
        raise CiphertextInvalid("stored session is malformed") from exc
    return open_session(cipher, SealedSession(
        session_id=session_id,
        created_at=created_at,
        expires_at=session_expires_at(fields),
        last_seen=last_seen,
        claims=claims,
        tokens=fields.get(b"tokens"),
        csrf=csrf,
        flow_id=flow_id,
        version=version,
    ))


def lock_value(expires_at: float, owner: str) -> bytes:
    return _num(expires_at) + b"\n" + owner.encode("ascii")


# --- Lua scripts (each runs atomically on the server) --------------------------------------
# Times in ARGV are the caller's store clock; a value's logical expiry is its first line.

_EXPIRES_AT: Final = r"""
local function expires_at(value)
  return tonumber(string.match(value, '^[^\n]*'))
end
"""

#: KEYS[1]; ARGV: now, value, px. Write the value unless a live one is there (an expired one
#: is replaced): ``put_pending`` and taking a refresh lock. 1 if written.
SET_UNLESS_LIVE: Final = (
    _EXPIRES_AT
    + r"""
local held = redis.call('GET', KEYS[1])
if held then
  local exp = expires_at(held)
  if exp and tonumber(ARGV[1]) < exp then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""
)

#: KEYS[1]; ARGV: now, sealed callback line. Append the callback to a live pending sign-in
#: that has none yet, keeping its TTL. 1 if stashed.
STASH_CALLBACK: Final = r"""
local held = redis.call('GET', KEYS[1])
if not held then return 0 end
local nl = string.find(held, '\n', 1, true)
if not nl then return 0 end
local exp = tonumber(string.sub(held, 1, nl - 1))
if not exp or tonumber(ARGV[1]) >= exp then return 0 end
if string.find(held, '\n', nl + 1, true) then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('SET', KEYS[1], held .. '\n' .. ARGV[2], 'PX', ttl)
else
  redis.call('SET', KEYS[1], held .. '\n' .. ARGV[2])
end
return 1
"""

#: KEYS[1]; ARGV: px, then field, value, field, value... Create the session hash unless the
#: key exists (even logically expired: no session fixation). 1 if created.
CREATE_SESSION: Final = r"""
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""

#: KEYS[1]; ARGV: now. Move ``last_seen`` forward on an existing session (never recreate it).
TOUCH_SESSION: Final = r"""
local seen = redis.call('HGET', KEYS[1], 'last_seen')
if seen and tonumber(seen) < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'last_seen', ARGV[1])
  return 1
end
return 0
"""

#: KEYS[1]; ARGV: now, idle limit (0: none), expected version, '1' + sealed tokens or '0' (drop
#: the tokens). Compare-and-set on ``version`` of a live (not expired, not idle) session; bumps
#: it. 1 if written.
UPDATE_TOKENS: Final = r"""
local f = redis.call('HMGET', KEYS[1], 'expires_at', 'version', 'last_seen')
if not f[1] or not f[2] or not f[3] then return 0 end
local now, idle = tonumber(ARGV[1]), tonumber(ARGV[2])
if now >= tonumber(f[1]) then return 0 end
if idle > 0 and now - tonumber(f[3]) >= idle then return 0 end
if tonumber(f[2]) ~= tonumber(ARGV[3]) then return 0 end
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'tokens', ARGV[5])
else
  redis.call('HDEL', KEYS[1], 'tokens')
end
redis.call('HINCRBY', KEYS[1], 'version', 1)
return 1
"""

_OWNED: Final = r"""
local function owned(value, owner)
  local nl = value and string.find(value, '\n', 1, true)
  return nl and string.sub(value, nl + 1) == owner
end
"""

#: KEYS[1]; ARGV: owner. Delete the lock only if ``owner`` still holds it. 1 if deleted.
RELEASE_LOCK: Final = (
    _OWNED
    + r"""
if owned(redis.call('GET', KEYS[1]), ARGV[1]) then return redis.call('DEL', KEYS[1]) end
return 0
"""
)

#: KEYS[1]; ARGV: owner, new value, px. Extend the lease only if ``owner`` still holds it.
RENEW_LOCK: Final = (
    _OWNED
    + r"""
if owned(redis.call('GET', KEYS[1]), ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
)

#: KEYS: any of the store's keys; ARGV: at, 'purge' or 'count', idle limit (0: none). Per key:
#: 1 alive at ``at``, 0 logically expired or idle (deleted when purging), -1 gone or not a
#: store value.
EXPIRY_SWEEP: Final = (
    _EXPIRES_AT
    + r"""
local idle = tonumber(ARGV[3])
local function logical_expiry(key)
  local kind = redis.call('TYPE', key)['ok']
  if kind == 'hash' then
    local f = redis.call('HMGET', key, 'expires_at', 'last_seen')
    local exp, seen = tonumber(f[1]), tonumber(f[2])
    if exp and seen and idle > 0 and seen + idle < exp then return seen + idle end
    return exp
  end
  if kind == 'string' then return expires_at(redis.call('GETRANGE', key, 0, 63)) end
  return nil
end
local at = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local exp = logical_expiry(key)
  if not exp then
    out[i] = -1
  elseif at < exp then
    out[i] = 1
  else
    out[i] = 0
    if ARGV[2] == 'purge' then redis.call('DEL', key) end
  end
end
return out
"""
)
