"""Job ids: time-ordered UUIDs (version 7) made by the producer.

Making ids on the client lets a batch insert return nothing, on every
backend, and sorting by id sorts by creation time.
"""

from __future__ import annotations

import os
import threading
import time

_lock = threading.Lock()
_last_millis = 0
_next_sequence = 0


def new_job_ids(count: int) -> list[str]:
    """``count`` UUIDv7 strings: 48 bits of Unix milliseconds, a 12-bit sequence,
    62 random bits.

    Ids made by one process only ever increase, in the order they were asked
    for: within a millisecond the sequence counts on from the previous call
    (jobs enqueued in the same millisecond, and with the same due time, run in
    the order they were enqueued), and a clock stepping back is ignored.
    """
    global _last_millis, _next_sequence
    with _lock:
        millis = time.time_ns() // 1_000_000
        if millis > _last_millis:
            _last_millis, _next_sequence = millis, 0
        millis, first = _last_millis, _next_sequence
        # The sequence wraps every 4,096 ids: the millisecond steps on instead.
        end = first + count
        _last_millis, _next_sequence = millis + (end >> 12), end & 0xFFF
    random = os.urandom(8 * count)
    ids = []
    for i in range(first, end):
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
