"""What the web layer accepts from a request: sizes, encodings, forms, return paths, hints.

Everything here is untrusted input made safe *before* a handler looks at it. Anything a
person could mistype or an attacker could craft ends as a 4xx page (a Werkzeug
``HTTPException`` the app renders), or is silently replaced by a safe default; never a 500.

Decisions:

- **Encoding.** Werkzeug decodes query strings and form bodies leniently (invalid UTF-8 and
  stray ``%`` survive as replacement characters or literal text). aadweb refuses them instead
  (400): a value that does not decode is not a value anyone sent on purpose, and a sign-in
  callback must be read exactly as it was sent.
- **Return paths** (``/login?next=``) are same-origin relative paths only (an open redirect
  otherwise, RFC 9700 4.11). Every percent-decoding layer is checked too, because some
  proxy or framework along the way may decode once more.
- **Hints** (``prompt``, ``login_hint``, ``domain_hint``) are passed to the authority only when
  well-formed; otherwise they are dropped, never an error.
- **The mount point** (``SCRIPT_NAME``) starts every URL the app makes. It is empty, or ``/``
  then a path whose next character is not ``/`` or ``\\`` (``//host`` is a network-path
  reference, RFC 3986 4.2, and browsers read ``\\`` as ``/``), with no backslash, space or
  control character anywhere. Anything else is refused (400): ``//evil.example`` would make
  ``/`` redirect to ``//evil.example/login``, another site.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import unquote, unquote_to_bytes

from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    RequestEntityTooLarge,
    RequestURITooLarge,
    UnsupportedMediaType,
)
from werkzeug.wrappers import Request

__all__ = [
    "MAX_BODY",
    "MAX_FORM_PARTS",
    "MAX_QUERY",
    "MAX_RETURN_PATH",
    "PROMPTS",
    "LimitedRequest",
    "check_mount_point",
    "check_request_line",
    "read_form",
    "safe_return_path",
    "sign_in_hints",
    "well_encoded",
    "well_mounted",
]

#: Request bodies (the form_post callback is a few KB: a code, an id_token, a state).
MAX_BODY: Final = 64 * 1024
MAX_FORM_PARTS: Final = 100
#: Query strings (the code flow's callback carries a ~1 KB code).
MAX_QUERY: Final = 8 * 1024
MAX_RETURN_PATH: Final = 512
#: The ``prompt`` values a person may ask for at ``/login``: all that the v1 authorize endpoint
#: knows (``aadweb.protocol.authorize.PROMPTS``). ``admin_consent`` lets an administrator grant
#: the app's permissions for the whole tenant (the "ask an admin to consent" page links it); it
#: adds no risk: the authority shows its own consent screen, only to an administrator, for this
#: app's registered permissions, and anyone could send the same authorize URL straight to it.
PROMPTS: Final = frozenset({"login", "select_account", "consent", "admin_consent", "none"})

_FORM: Final = "application/x-www-form-urlencoded"
_BAD_ESCAPE: Final = re.compile(rb"%(?![0-9A-Fa-f]{2})")
# A return path as sent: "/" then visible ASCII; never "//" or "/\" at the start (checked below).
_RETURN_PATH: Final = re.compile(r"/[\x21-\x7e]*")
_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f]")
_LOGIN_HINT: Final = re.compile(r"[^\x00-\x20\x7f-\x9f\s]{1,256}")
_DOMAIN_HINT: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_DECODE_ROUNDS: Final = 4
# A mount point as decoded by Werkzeug (script_root, trailing "/" removed): "" or "/" + a path.
_MOUNT_POINT: Final = re.compile(r"(?:/[^/\\\s\x00-\x1f\x7f-\x9f][^\\\s\x00-\x1f\x7f-\x9f]*)?")


class LimitedRequest(Request):
    """A Werkzeug request with aadweb's body limits (413 beyond them)."""

    max_content_length = MAX_BODY
    max_form_memory_size = MAX_BODY
    max_form_parts = MAX_FORM_PARTS


def well_encoded(raw: bytes) -> bool:
    """True when ``raw`` (a query string or urlencoded body) has only valid ``%XX`` escapes
    and decodes to valid UTF-8 (WHATWG URL "application/x-www-form-urlencoded")."""
    if _BAD_ESCAPE.search(raw):
        return False
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def check_request_line(request: Request) -> None:
    """414 for a query string over :data:`MAX_QUERY`; 400 when it is not well encoded."""
    query: str = request.environ.get("QUERY_STRING", "")
    if len(query) > MAX_QUERY:
        raise RequestURITooLarge()
    # PEP 3333: environ strings are bytes decoded as latin-1.
    if not well_encoded(query.encode("latin-1", "replace")):
        raise BadRequest("the query string is not valid percent-encoded UTF-8")


def well_mounted(script_root: str) -> bool:
    """True for a mount point URLs may start with: ``""``, or ``/`` + a path that does not start
    with ``/`` or ``\\``, and has no backslash, whitespace or control character."""
    return _MOUNT_POINT.fullmatch(script_root) is not None


def check_mount_point(request: Request) -> None:
    """400 for a ``SCRIPT_NAME`` that is not :func:`well_mounted` (e.g. ``//evil.example``)."""
    if not well_mounted(request.script_root):
        raise BadRequest("the mount point (SCRIPT_NAME) is not a path on this site")


def read_form(request: Request) -> dict[str, list[str]]:
    """The urlencoded body as ``{name: [values]}`` (each value kept, so repeats can be refused).

    415 for another content type, 413 beyond the size or part limits, 400 when badly encoded
    or when the body cannot be read at all.
    """
    if not request.mimetype and not request.content_length:
        return {}  # no body at all: an empty form
    if request.mimetype != _FORM:
        raise UnsupportedMediaType()
    try:
        raw = request.get_data(cache=True)  # 413 past max_content_length; form parsing reuses the cache
    except HTTPException:
        raise  # 413; or 400 for a client that went away (Werkzeug turns OSError into ClientDisconnected)
    except Exception as exc:
        # The server could not decode the body: a malformed chunked encoding makes gunicorn raise
        # its own exceptions (InvalidChunkSize, ChunkMissingTerminator), which are not OSError.
        raise BadRequest(f"the request body could not be read ({type(exc).__name__})") from exc
    if raw.count(b"&") >= MAX_FORM_PARTS:
        raise RequestEntityTooLarge()
    if not well_encoded(raw):
        raise BadRequest("the form body is not valid percent-encoded UTF-8")
    return request.form.to_dict(flat=False)


def _local_layer(path: str) -> bool:
    # RFC 3986 4.2: "//host" is a network-path reference; browsers also read "\" as "/".
    return path.startswith("/") and path[1:2] not in ("/", "\\") and "\\" not in path and not _CONTROL.search(path)


def safe_return_path(value: str | None) -> str:
    """``value`` if it is a same-origin relative path, else ``"/"`` (silently)."""
    if not value or len(value) > MAX_RETURN_PATH or not _RETURN_PATH.fullmatch(value):
        return "/"
    layer = value
    for _ in range(_DECODE_ROUNDS):
        if not _local_layer(layer):
            return "/"
        decoded = unquote(layer, errors="replace")
        if decoded == layer:
            return value
        layer = decoded
    return "/"  # still changing after several rounds: not a path anyone means


def sign_in_hints(args: Mapping[str, str]) -> dict[str, str]:
    """The well-formed ones of ``prompt``, ``login_hint`` and ``domain_hint``."""
    hints: dict[str, str] = {}
    prompt = args.get("prompt")
    if prompt in PROMPTS:
        hints["prompt"] = prompt
    login_hint = args.get("login_hint")
    if login_hint and _LOGIN_HINT.fullmatch(login_hint):
        hints["login_hint"] = login_hint
    domain_hint = args.get("domain_hint")
    if domain_hint and len(domain_hint) <= 253 and _DOMAIN_HINT.fullmatch(domain_hint):
        hints["domain_hint"] = domain_hint
    return hints
