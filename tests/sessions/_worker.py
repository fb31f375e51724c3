"""Child-process bodies for the multi-process sqlite tests (imported by ``spawn`` children)."""

from __future__ import annotations

import json
from typing import Any

from aadweb.sessions import SqliteSessionStore, TokenCipher
from tests.sessions.conftest import SECRET_KEY, make_pending


def take_states(db: str, states: list[str], browser_id: str, out: str, barrier: Any) -> None:
    """Open the store, then race the other processes for every state (meeting at ``barrier``
    before each one, so every take is contended); write the states this process won."""
    store = SqliteSessionStore(db, cipher=TokenCipher.from_secret(SECRET_KEY))
    won = []
    for state in states:
        barrier.wait(timeout=30)
        if store.take_pending(state, browser_id) is not None:
            won.append(state)
    store.close()
    with open(out, "w") as f:
        json.dump(won, f)


def open_and_put(db: str, state: str, barrier: Any) -> None:
    """Open a store on a (maybe brand new) file at the same moment as other processes."""
    barrier.wait(timeout=30)
    store = SqliteSessionStore(db, cipher=TokenCipher.from_secret(SECRET_KEY))
    store.put_pending(make_pending(state), 600)
    store.close()
