"""PKCE, RFC 7636: the code verifier and its S256 challenge.

The verifier is a fresh random string per sign-in (drawn by the caller: this layer draws no
randomness); the authorize request carries ``BASE64URL(SHA256(ASCII(verifier)))`` and the
token request carries the verifier itself, so an intercepted code is useless on its own.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Final

from aadweb.secret import Secret

__all__ = ["check_verifier", "code_challenge_s256"]

# RFC 7636 4.1: code-verifier = 43*128unreserved, unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
_VERIFIER: Final = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def _value(verifier: str | Secret) -> str:
    return verifier.reveal() if isinstance(verifier, Secret) else verifier


def check_verifier(verifier: str | Secret) -> None:
    """Raise ValueError unless ``verifier`` is 43-128 characters of the unreserved set."""
    # RFC 7636 4.1: the verifier MUST be 43-128 characters of [A-Z] [a-z] [0-9] - . _ ~
    if not isinstance(_value(verifier), str) or not _VERIFIER.fullmatch(_value(verifier)):
        raise ValueError("a PKCE code verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 4.1)")


def code_challenge_s256(verifier: str | Secret) -> str:
    """``BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))`` without padding (RFC 7636 4.2)."""
    check_verifier(verifier)
    digest = hashlib.sha256(_value(verifier).encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
