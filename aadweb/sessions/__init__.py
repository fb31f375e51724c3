"""Server-side session stores: the browser holds only a signed session id; the rest is here.

``open_store(url, secret_key=...)`` opens ``memory:``, ``sqlite:///path`` or
``redis://host:port/db``. Every store keeps the one contract of :class:`SessionStore`
(``aadweb.sessions._base`` states each guarantee); one contract test runs against all.
"""

from __future__ import annotations

from ._base import PENDING_TTL, SessionStore
from ._crypto import TOKENS_PURPOSE, CiphertextInvalid, TokenCipher, derive_key
from ._model import MAX_OTHER_TOKENS, PendingSignIn, ResourceToken, SessionRecord, TokenSet
from ._open import open_store, store_problems
from .memory import MemorySessionStore
from .redis import RedisSessionStore
from .sqlite import SqliteSessionStore

__all__ = [
    "MAX_OTHER_TOKENS",
    "PENDING_TTL",
    "TOKENS_PURPOSE",
    "CiphertextInvalid",
    "MemorySessionStore",
    "PendingSignIn",
    "RedisSessionStore",
    "ResourceToken",
    "SessionRecord",
    "SessionStore",
    "SqliteSessionStore",
    "TokenCipher",
    "TokenSet",
    "derive_key",
    "open_store",
    "store_problems",
]
