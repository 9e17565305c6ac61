"""Where a peer's no-op task notes when it started (the peers store no results).

W4 reads the file back: one line ``<job number> <time.time()>`` per job.
"""

from __future__ import annotations

import os
import time


def note_start(n: int) -> None:
    path = os.environ.get("AQUEUE_BENCH_STARTS")
    if path:
        with open(path, "a") as f:
            f.write(f"{n} {time.time()}\n")
