"""The phases of a pending sign-in, per response type: one table (as h11 keeps its states).

DESIGN.md, "The sign-in flows". A pending sign-in is made by ``SignIn.begin`` and taken
(consumed, whatever its phase) by ``SignIn.complete``; in between, the hybrid flow stashes the
authority's cross-site form_post under its state::

    hybrid "code id_token":  awaiting form_post ──form_post──► stashed ──same-site GET──► completed
    code   "code":           awaiting query callback ──────────────────query GET──────► completed

Each phase says what it waits for, and where the browser's GET to the callback finds the
authority's answer: the stash, the GET's own query, or nowhere yet (the GET is refused).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from aadweb.errors import CallbackError
from aadweb.protocol.callback import Callback
from aadweb.sessions import PendingSignIn

__all__ = ["AWAITING_FORM_POST", "AWAITING_QUERY", "PHASES", "STASHED", "Phase", "answer_for", "phase_of"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Phase:
    """Where a pending sign-in stands: what it waits for, and where the browser's GET to the
    callback finds the authority's answer (``None``: the GET comes too early and is refused)."""

    name: str
    waits_for: str
    answer_from: Literal["stash", "query"] | None


AWAITING_FORM_POST: Final = Phase(
    name="awaiting form_post", answer_from=None,
    waits_for="the authority's cross-site form_post, stashed once under its state (stash_form_post)",
)
STASHED: Final = Phase(
    name="stashed", answer_from="stash",
    waits_for="the browser's same-site GET carrying only the state (complete)",
)
AWAITING_QUERY: Final = Phase(
    name="awaiting query callback", answer_from="query",
    waits_for="the browser's GET carrying the authority's answer in its query (complete)",
)

#: (response type, form_post stashed?) -> phase. ``complete`` ends every phase: the pending
#: sign-in is taken (consumed) first, so a state works once whatever its phase.
PHASES: Final[Mapping[tuple[str, bool], Phase]] = {
    ("code id_token", False): AWAITING_FORM_POST,
    ("code id_token", True): STASHED,
    ("code", False): AWAITING_QUERY,
    # A form_post is no part of the code flow: the store keeps one (it cannot tell the flows
    # apart when stashing), and nothing reads it: the answer is the query's.
    ("code", True): AWAITING_QUERY,
}


def phase_of(pending: PendingSignIn) -> Phase:
    """The phase ``pending`` is in: by its response type and whether a form_post was stashed."""
    return PHASES[(pending.response_type, pending.callback is not None)]


def answer_for(pending: PendingSignIn, query: Callback) -> Callback:
    """The authority's answer that completes ``pending``, given the browser's GET (``query``,
    read once): the stashed form_post, or the query itself; refused when none arrived yet."""
    phase = phase_of(pending)
    if phase.answer_from is None:
        raise CallbackError("the authority's answer for this sign-in never arrived")
    if phase.answer_from == "query":
        return query
    assert pending.callback is not None  # the table says "stash" only once one was stashed
    return Callback.from_stash(pending.callback)
