"""The flow id: which sign-in a transcript record, a session or a log line belongs to.

``flow_id_for(state)`` is a one-way function of the sign-in's ``state``, computed by
:class:`~aadweb.signin.SignIn` where it reads the state and reported with every sign-in event
(``aadweb.events``); the session keeps it (``SessionRecord.flow_id``) for the later Graph,
refresh and logout legs. :data:`current_flow` holds the flow of the request being answered in
this thread/context (the web layer's tap sets it from the events), where observers of outbound
calls read it.
"""

from __future__ import annotations

import hashlib
from contextvars import ContextVar

__all__ = ["current_flow", "flow_id_for"]

#: The flow of the request being answered in this thread/context (``None``: no sign-in known).
current_flow: ContextVar[str | None] = ContextVar("aadweb_flow", default=None)


def flow_id_for(state: str) -> str:
    """The flow id of the sign-in whose ``state`` this is: 16 hex digits, one-way."""
    return hashlib.sha256(b"aadweb-flow:" + state.encode("utf-8", "surrogatepass")).hexdigest()[:16]
