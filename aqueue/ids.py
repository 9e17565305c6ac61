"""Job ids: time-ordered UUIDs (version 7) made by the producer.

Making ids on the client lets a batch insert return nothing, on every
backend, and sorting by id sorts by creation time.
"""

from __future__ import annotations

import os
import time
import uuid


def new_job_id() -> str:
    """A UUIDv7 string: 48 bits of Unix milliseconds, then 74 random bits."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # 12 random bits
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))
