"""Job ids: time-ordered UUIDs (version 7) made by the producer.

Making ids on the client lets a batch insert return nothing, on every
backend, and sorting by id sorts by creation time.
"""

from __future__ import annotations

import os
import time


def new_job_ids(count: int, first: int = 0, millis: int | None = None) -> list[str]:
    """``count`` UUIDv7 strings: 48 bits of Unix milliseconds, a 12-bit sequence
    (so a batch's ids sort in the order its jobs were given), 62 random bits.

    A batch made in parts continues one sequence: pass each part's ``first``
    position and the same ``millis``.
    """
    if millis is None:
        millis = time.time_ns() // 1_000_000
    random = os.urandom(8 * count)
    ids = []
    for i in range(first, first + count):
        # The sequence wraps every 4,096 jobs: the millisecond steps on instead.
        stamp = (millis + (i >> 12)) & 0xFFFFFFFFFFFF
        at = 8 * (i - first)
        tail = int.from_bytes(random[at : at + 8], "big") & _RANDOM_62 | _VARIANT
        h = f"{stamp:012x}7{i & 0xFFF:03x}{tail:016x}"
        ids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids


def new_job_id() -> str:
    """One UUIDv7 string (see :func:`new_job_ids`)."""
    return new_job_ids(1)[0]


_RANDOM_62 = (1 << 62) - 1
_VARIANT = 0b10 << 62
