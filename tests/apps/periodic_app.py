"""A worker app with a schedule every second, for the periodic multi-process tests.
Each run appends ``tick <scheduled tick> <job id> <pid>`` to ``AQUEUE_TEST_RECORD``."""

from __future__ import annotations

import os

import aqueue
from tests.apps.recording import _record

queue = aqueue.Queue()  # AQUEUE_DSN, or the worker's --dsn


@queue.periodic("* * * * * *", name="every second", catch_up="all")
@queue.task(name="tick", takes_context=True)
async def tick(ctx: aqueue.JobContext) -> None:
    assert ctx.periodic_tick is not None
    _record(f"tick {ctx.periodic_tick.timestamp():.0f} {ctx.job_id} {os.getpid()}")
