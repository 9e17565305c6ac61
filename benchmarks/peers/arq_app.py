"""arq's side of the benchmark: one no-op async function on the local Redis.

    arq benchmarks.peers.arq_app.WorkerSettings [--burst]
    arq benchmarks.peers.arq_app.WorkerSettings --custom-log-dict benchmarks.peers.arq_app.QUIET

Its defaults as its docs give them: ``max_jobs`` 10 (AQUEUE_BENCH_CONCURRENCY
sets it), a 0.5 s ``poll_delay`` (arq polls; it has no wake-up), results kept
an hour (the drain counts them), INFO logging with a line as each job starts
and ends; ``QUIET`` is the same handler at WARNING.
"""

from __future__ import annotations

import os
from typing import Any

from arq.connections import RedisSettings

from benchmarks.peers.recorder import note_start

URL = os.environ.get("AQUEUE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


async def noop(ctx: dict[str, Any], n: int = 0) -> None:
    note_start(n)


class WorkerSettings:
    functions = [noop]
    redis_settings = RedisSettings.from_dsn(URL)
    max_jobs = int(os.environ.get("AQUEUE_BENCH_CONCURRENCY", "10"))


QUIET = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"arq.standard": {"level": "WARNING", "class": "logging.StreamHandler"}},
    "loggers": {"arq": {"handlers": ["arq.standard"], "level": "WARNING"}},
}
