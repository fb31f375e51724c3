"""The urllib3 internals the deadline watchdog (``aadweb/transport/_watchdog.py``) builds on.

The watchdog subclasses urllib3's connection and pool classes and overrides some of their
methods, private ones included. An urllib3 release that renames, removes or reshapes one of
them would not fail at import: the override would simply stop being called and the overall
deadline would silently stop holding. These checks fail loudly instead, naming what moved.
setup.cfg bounds urllib3 to the major version checked here.
"""

from __future__ import annotations

import configparser
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import urllib3
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection

from aadweb.transport import _watchdog

ROOT = Path(__file__).resolve().parents[2]
P = inspect.Parameter

#: (class, method) -> its parameters as (name, kind), ``self`` included, as urllib3 2.x and
#: requests define them. Annotations are not compared (they are not what a call relies on).
OVERRIDDEN: dict[tuple[type[Any], str], list[tuple[str, Any]]] = {
    (HTTPConnection, "_new_conn"): [("self", P.POSITIONAL_OR_KEYWORD)],
    (HTTPConnection, "connect"): [("self", P.POSITIONAL_OR_KEYWORD)],
    (HTTPSConnection, "connect"): [("self", P.POSITIONAL_OR_KEYWORD)],
    (HTTPConnection, "request"): [
        ("self", P.POSITIONAL_OR_KEYWORD), ("method", P.POSITIONAL_OR_KEYWORD), ("url", P.POSITIONAL_OR_KEYWORD),
        ("body", P.POSITIONAL_OR_KEYWORD), ("headers", P.POSITIONAL_OR_KEYWORD), ("chunked", P.KEYWORD_ONLY),
        ("preload_content", P.KEYWORD_ONLY), ("decode_content", P.KEYWORD_ONLY),
        ("enforce_content_length", P.KEYWORD_ONLY),
    ],
    (HTTPConnection, "getresponse"): [("self", P.POSITIONAL_OR_KEYWORD)],
    (HTTPConnection, "close"): [("self", P.POSITIONAL_OR_KEYWORD)],
    (HTTPConnectionPool, "_put_conn"): [("self", P.POSITIONAL_OR_KEYWORD), ("conn", P.POSITIONAL_OR_KEYWORD)],
    (HTTPAdapter, "init_poolmanager"): [
        ("self", P.POSITIONAL_OR_KEYWORD), ("connections", P.POSITIONAL_OR_KEYWORD),
        ("maxsize", P.POSITIONAL_OR_KEYWORD), ("block", P.POSITIONAL_OR_KEYWORD), ("pool_kwargs", P.VAR_KEYWORD),
    ],
    (HTTPAdapter, "proxy_manager_for"): [
        ("self", P.POSITIONAL_OR_KEYWORD), ("proxy", P.POSITIONAL_OR_KEYWORD), ("proxy_kwargs", P.VAR_KEYWORD),
    ],
}


def _shape(function: Callable[..., Any]) -> list[tuple[str, Any]]:
    return [(p.name, p.kind) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize(("owner", "name"), sorted(OVERRIDDEN, key=lambda k: (k[0].__name__, k[1])),
                         ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_the_overridden_method_still_exists_with_its_signature(owner: type[Any], name: str) -> None:
    method = owner.__dict__.get(name)
    assert callable(method), f"{owner.__module__}.{owner.__name__}.{name} is gone: {_watchdog.__name__} overrides it"
    assert _shape(method) == OVERRIDDEN[(owner, name)], (
        f"{owner.__name__}.{name} changed its signature to {inspect.signature(method)}; review {_watchdog.__name__}")


def test_connect_opens_the_socket_through_new_conn_before_any_tls() -> None:
    # The watchdog duplicates the socket in _new_conn and so covers the TLS handshake: both
    # connect() methods must get their socket from self._new_conn().
    for owner in (HTTPConnection, HTTPSConnection):
        source = inspect.getsource(owner.__dict__["connect"])
        assert "self._new_conn()" in source, f"{owner.__name__}.connect no longer calls self._new_conn()"


def test_the_pools_take_their_connection_class_from_connection_cls() -> None:
    assert HTTPConnectionPool.ConnectionCls is HTTPConnection
    assert HTTPSConnectionPool.ConnectionCls is HTTPSConnection
    assert issubclass(HTTPSConnectionPool, HTTPConnectionPool)  # so it inherits _put_conn
    assert "_put_conn" not in HTTPSConnectionPool.__dict__


def test_pool_managers_pick_pool_classes_by_scheme() -> None:
    manager = PoolManager()
    assert set(manager.pool_classes_by_scheme) == {"http", "https"}
    assert manager.connection_from_url("http://127.0.0.1:9/").__class__ is HTTPConnectionPool
    guarded = _watchdog._install(PoolManager())
    assert isinstance(guarded.connection_from_url("http://127.0.0.1:9/"), _watchdog._GuardedHTTPPool)
    assert isinstance(guarded.connection_from_url("https://127.0.0.1:9/"), _watchdog._GuardedHTTPSPool)


def test_the_guarded_adapter_installs_guarded_pools_direct_and_through_a_proxy() -> None:
    adapter = _watchdog.GuardedAdapter()
    try:
        assert adapter.poolmanager.pool_classes_by_scheme["https"] is _watchdog._GuardedHTTPSPool
        proxied = adapter.proxy_manager_for("http://127.0.0.1:9")
        assert proxied.pool_classes_by_scheme["https"] is _watchdog._GuardedHTTPSPool
    finally:
        adapter.close()


def test_setup_cfg_bounds_urllib3_to_the_major_version_checked_here() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    requirement = next(line.strip() for line in config["options"]["install_requires"].splitlines()
                       if line.strip().startswith("urllib3"))
    upper = re.search(r"<\s*(\d+)", requirement)
    assert upper is not None, f"setup.cfg must bound urllib3 from above: {requirement!r}"
    assert int(urllib3.__version__.split(".")[0]) == int(upper.group(1)) - 1 == 2
