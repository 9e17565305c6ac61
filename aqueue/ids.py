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
    # The 64 bits after the sequence: the variant (0b10), then 62 random bits.
    tail = bytearray(os.urandom(8 * count))
    tail[::8] = bytes(b & 0x3F | 0x80 for b in tail[::8])
    tails = tail.hex()
    ids = []
    stamp = ""
    for k, i in enumerate(range(first, end)):
        if k == 0 or i & 0xFFF == 0:
            h = f"{(millis + (i >> 12)) & 0xFFFFFFFFFFFF:012x}"
            stamp = f"{h[:8]}-{h[8:]}-7"
        t = tails[16 * k : 16 * k + 16]
        ids.append(f"{stamp}{i & 0xFFF:03x}-{t[:4]}-{t[4:]}")
    return ids


def new_job_id() -> str:
    """One UUIDv7 string (see :func:`new_job_ids`)."""
    return new_job_ids(1)[0]
