"""Helpers for ``aadweb register``'s tests: the emulator on a loopback socket with a clock the
registrar's injected sleep moves, and an admin who enters the code when the registrar waits."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from aadweb.register import RegisterOptions, Registrar, Where

MEGAN = "megan.bowen@contoso.example"  # the emulator's app admin
ADELE = "adele.vance@contoso.example"  # an ordinary user
LINE = re.compile(r"To sign in, open (\S+) and enter the code (\S+)\.")


class OffsetClock:
    """Real time plus an offset the fake sleep adds to: tokens stay valid for a real app."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Admin:
    """Plays the person at the browser: on the registrar's first sleep, reads the printed line,
    opens the page and signs in as ``user`` (or declines). Every sleep moves the clock."""

    clock: OffsetClock
    stdout: io.StringIO
    user: str = MEGAN
    action: str = "continue"
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        if not self.sleeps:
            match = LINE.search(self.stdout.getvalue())
            assert match, self.stdout.getvalue()
            page = requests.post(match.group(1), timeout=10, data={
                "user_code": match.group(2), "login": self.user, "action": self.action})
            assert page.status_code == 200, page.text
        self.sleeps.append(seconds)
        self.clock.offset += seconds


def where(emulator_url: str) -> Where:
    return Where(authority_host=emulator_url, graph_root=emulator_url,
                 public_client_id="14d82eec-204b-4c2f-b7e8-296a70dab67e", timeout=10,
                 carried={"AADWEB_AUTHORITY_HOST": emulator_url, "AADWEB_GRAPH_URL": f"{emulator_url}/v1.0/me"})


def registrar(emulator_url: str, clock: OffsetClock, options: RegisterOptions, *,
              user: str = MEGAN, action: str = "continue") -> tuple[Registrar, Admin, io.StringIO]:
    out = io.StringIO()
    admin = Admin(clock=clock, stdout=out, user=user, action=action)
    monotonic: Callable[[], float] = clock
    return Registrar(options, where(emulator_url), stdout=out, clock=monotonic, sleep=admin.sleep,
                     wall=clock), admin, out
