"""Retry delays: exponential backoff with jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retry ``n`` is ``base * factor**(n-1)``, capped at ``max_delay``,
    then spread by ``±jitter`` (a fraction) so failed jobs do not retry in lockstep."""

    base: float = 1.0
    factor: float = 2.0
    max_delay: float = 3600.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.base < 0 or self.factor < 1 or self.max_delay < 0 or not 0 <= self.jitter <= 1:
            raise ValueError(
                "Backoff needs base >= 0, factor >= 1, max_delay >= 0 and 0 <= jitter <= 1"
            )

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        raw = min(self.max_delay, self.base * self.factor ** max(0, attempt - 1))
        return max(0.0, raw * random.uniform(1 - self.jitter, 1 + self.jitter))
