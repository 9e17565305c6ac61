"""Runs pgqueuer's own worker loop, as ``pgq run`` does, without its CLI.

    python -m benchmarks.peers.pgqueuer_worker <concurrency> <drain|continuous>

(pgqueuer 1.6.0's ``pgq run`` fails before starting, converting its
``--log-level`` default, so the benchmark calls the documented
``pgqueuer.run`` instead: the same supervisor and QueueManager.)

By default the harness sizes its batch to the concurrency (half of it, as
pgqueuer requires ``max_concurrent_tasks >= 2 x batch_size``);
``AQUEUE_BENCH_PGQUEUER_DEFAULTS=1`` runs it with pgqueuer's own defaults
instead (``batch_size=10``, no ``max_concurrent_tasks``), as a user who
sets neither gets it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import pgqueuer
from pgqueuer.types import QueueExecutionMode


def main() -> None:
    concurrency = int(sys.argv[1])
    # pgqueuer requires max_concurrent_tasks >= 2 x batch_size.
    mode = QueueExecutionMode(sys.argv[2])
    # INFO is `pgq run`'s default level; WARNING for the quiet figures.
    logging.basicConfig(level=sys.argv[3] if len(sys.argv) > 3 else "WARNING")
    sizes: dict[str, int] = {}
    if os.environ.get("AQUEUE_BENCH_PGQUEUER_DEFAULTS") != "1":
        sizes = {"batch_size": max(1, concurrency // 2), "max_concurrent_tasks": concurrency}
    asyncio.run(pgqueuer.run("benchmarks.peers.pgqueuer_app:create", mode=mode, **sizes))


if __name__ == "__main__":
    main()
