"""Retry delays: exponential backoff with jitter."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from aqueue.validation import MAX_DELAY_SECONDS


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retry ``n`` is ``base * factor**(n-1)``, capped at ``max_delay``,
    then spread by ``±jitter`` (a fraction) so failed jobs do not retry in lockstep."""

    base: float = 1.0
    factor: float = 2.0
    max_delay: float = 3600.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        values = (self.base, self.factor, self.max_delay, self.jitter)
        if (
            not all(math.isfinite(v) for v in values)
            or self.base < 0
            or self.factor < 1
            or not 0 <= self.max_delay <= MAX_DELAY_SECONDS
            or not 0 <= self.jitter <= 1
        ):
            raise ValueError(
                "Backoff needs finite base >= 0, factor >= 1, 0 <= max_delay <= ten years "
                "and 0 <= jitter <= 1"
            )

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        try:
            raw = min(self.max_delay, self.base * self.factor ** max(0, attempt - 1))
        except OverflowError:  # factor ** attempt past a float, on the 1,000th attempt
            raw = self.max_delay
        spread = raw * random.uniform(1 - self.jitter, 1 + self.jitter)
        return min(MAX_DELAY_SECONDS, max(0.0, spread))
