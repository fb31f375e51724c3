"""What happens during a sign-in, told to an observer as small frozen events (as in h11).

:class:`~aadweb.signin.SignIn` reports each step of a sign-in's life to one injected
:class:`SignInObserver`, by calling ``observer.on_event(event)`` in the thread doing the work::

    SignInBegun ─► CallbackReceived(via="form_post") ─► CallbackStashed          (hybrid only)
                ─► CallbackReceived(via="query") ─► IdTokenChecked ─► SessionCreated
    SessionResumed ─► TokenRefreshed ─► SessionEnded(reason=...)                  (later requests)
    SignInRefused(error) ends any step that refused what it was given.

Every event names the sign-in it belongs to by its **flow id** (``aadweb.flow``), or ``None``
when none is known yet (a callback whose state could not be read, a session replaced by a new
sign-in). Events carry no secret: no state, code, token, session id or cookie, only the flow id
(a one-way function of the state), verdicts and the refusal (whose message is safe by
construction, ``aadweb.errors``).

The wire transcript is one observer (``aadweb.web.wiretap.WireTap``); a metrics counter or an
audit log is another. An observer must be quick and must not raise: ``SignIn`` logs and ignores
an observer's exception, so watching a sign-in never changes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, Protocol

from aadweb.errors import AadWebError

if TYPE_CHECKING:
    from aadweb.errors import Verdict

__all__ = [
    "CallbackReceived",
    "CallbackStashed",
    "CallbackVia",
    "EndReason",
    "IdTokenChecked",
    "IgnoreEvents",
    "SessionCreated",
    "SessionEnded",
    "SessionResumed",
    "SignInBegun",
    "SignInEvent",
    "SignInObserver",
    "SignInRefused",
    "TokenRefreshed",
]

#: How the authority's answer reached the app: its cross-site form_post (hybrid), or the
#: browser's GET to the callback (the code flow's query, or the hybrid flow's same-site return).
CallbackVia = Literal["form_post", "query"]
#: Why a session ended: the user signed out; a new sign-in in the same browser replaced it; it
#: can no longer get a token (refresh token refused or missing, Graph refused a fresh token).
EndReason = Literal["signed_out", "replaced", "reauthentication_required"]

_FLOW: Final = re.compile(r"[0-9a-f]{1,64}")
_VIA: Final = frozenset({"form_post", "query"})
_REASONS: Final = frozenset({"signed_out", "replaced", "reauthentication_required"})


@dataclass(frozen=True, slots=True, kw_only=True)
class SignInEvent:
    """Something that happened to the sign-in ``flow`` (``None``: not known)."""

    flow: str | None

    def __post_init__(self) -> None:
        if self.flow is not None and (not isinstance(self.flow, str) or not _FLOW.fullmatch(self.flow)):
            raise ValueError("flow must be a flow id (hex digits) or None")


@dataclass(frozen=True, slots=True, kw_only=True)
class SignInBegun(SignInEvent):
    """A pending sign-in was stored and the browser is sent to the authority (DESIGN step 1)."""

    response_type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackReceived(SignInEvent):
    """An answer for the sign-in ``flow`` arrived; its state is not yet checked against the store."""

    via: CallbackVia

    def __post_init__(self) -> None:
        SignInEvent.__post_init__(self)
        if self.via not in _VIA:
            raise ValueError(f"via must be one of {sorted(_VIA)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackStashed(SignInEvent):
    """The hybrid flow's form_post was kept under its state until the browser comes back."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IdTokenChecked(SignInEvent):
    """The id_token checks of one sign-in, each with its spec reference; ``passed`` only if all held.

    On a refusal ``verdicts`` are the checks made up to and including the one that failed.
    """

    verdicts: tuple[Verdict, ...]
    passed: bool

    def __post_init__(self) -> None:
        SignInEvent.__post_init__(self)
        object.__setattr__(self, "verdicts", tuple(self.verdicts))
        if self.passed and not all(v.passed for v in self.verdicts):
            raise ValueError("passed=True needs every verdict to have passed")


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionCreated(SignInEvent):
    """The sign-in is complete: a new session (a new id, DESIGN step 5) holds the user and tokens."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionResumed(SignInEvent):
    """A request came with the live session of the sign-in ``flow``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenRefreshed(SignInEvent):
    """The session's access token was refreshed with its refresh token (RFC 6749 6)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionEnded(SignInEvent):
    """The session was ended server-side, once, for ``reason``."""

    reason: EndReason

    def __post_init__(self) -> None:
        SignInEvent.__post_init__(self)
        if self.reason not in _REASONS:
            raise ValueError(f"reason must be one of {sorted(_REASONS)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SignInRefused(SignInEvent):
    """A step refused what it was given; ``error`` is what the caller is about to answer with."""

    error: AadWebError

    def __post_init__(self) -> None:
        SignInEvent.__post_init__(self)
        if not isinstance(self.error, AadWebError):
            raise ValueError("error must be an AadWebError")


class SignInObserver(Protocol):
    """Hears every :class:`SignInEvent` of a :class:`~aadweb.signin.SignIn`, in order."""

    def on_event(self, event: SignInEvent) -> None: ...


class IgnoreEvents:
    """The default observer: hears everything, does nothing."""

    def on_event(self, event: SignInEvent) -> None:
        return None
