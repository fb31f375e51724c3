"""A gunicorn config that runs every worker under cProfile (``bench_gate --profile``).

Each worker starts profiling once its app is loaded (imports are not counted) and, when it exits,
writes ``$BENCH_PROFILE_DIR/worker-<pid>.prof`` (read it with :mod:`pstats`). Only hooks here: the
command line sets everything else.

    BENCH_PROFILE_DIR=/tmp/p GUNICORN_CMD_ARGS="--config benchmarks/_cprofile_conf.py" gunicorn ...
"""

from __future__ import annotations

import cProfile
import os
from typing import Any

_profiles: dict[int, cProfile.Profile] = {}


def post_worker_init(worker: Any) -> None:
    profiler = cProfile.Profile()
    _profiles[os.getpid()] = profiler
    profiler.enable()


def worker_exit(server: Any, worker: Any) -> None:
    profiler = _profiles.pop(os.getpid(), None)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(os.path.join(os.environ["BENCH_PROFILE_DIR"], f"worker-{os.getpid()}.prof"))
