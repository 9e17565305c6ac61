"""Durations as people write them: ``90``, ``45s``, ``30m``, ``12h``, ``7d``, ``2w``."""

from __future__ import annotations

import math
import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """``text`` as seconds; ``ValueError`` naming it when it is not a duration."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"not a duration: {text!r} (try 30m, 12h or 7d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def seconds(value: str | float | timedelta, what: str) -> float:
    """A positive duration given as text, seconds or a timedelta, in seconds."""
    if isinstance(value, timedelta):
        result = value.total_seconds()
    elif isinstance(value, str):
        result = parse_duration(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = float(value)
    else:
        raise TypeError(
            f"{what} must be a duration like '7d', seconds or a timedelta, "
            f"not {type(value).__name__}"
        )
    if not math.isfinite(result) or result <= 0:
        raise ValueError(f"{what} must be a positive duration, not {value!r}")
    return result
