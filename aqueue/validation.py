"""Checks on names and options, so bad input fails before anything is written."""

from __future__ import annotations

import json
import math
import re
import unicodedata
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from aqueue.records import JobFilter, JobStatus

MAX_NAME_LENGTH = 200
MAX_UNIQUE_KEY_LENGTH = 255
MIN_PRIORITY, MAX_PRIORITY = -100, 100
#: The longest delay a job (or a retry) may be given: ten years. Longer ones
#: are almost surely a bug (``float("inf")``, milliseconds passed as seconds),
#: and every database's interval arithmetic overflows somewhere beyond.
MAX_DELAY_SECONDS = 10 * 365 * 86400.0
#: How often one job may snooze (``raise aqueue.Snooze``): a job that polls
#: something every minute can wait most of a day; one that snoozes in a loop
#: by mistake ends, failed with ``TooManySnoozes``, instead of never.
MAX_SNOOZES = 1000
#: The most tags one job carries, and the longest tag.
MAX_TAGS, MAX_TAG_LENGTH = 20, 100
#: Tags aqueue writes for itself (a workflow's groups) begin with this.
RESERVED_TAG_PREFIX = "aqueue:"


def check_name(kind: str, value: object) -> str:
    """A task or queue name: 1-200 characters, any script, no control characters.

    Quotes, semicolons and the like are fine: names only ever reach SQL as
    bind parameters.
    """
    if not isinstance(value, str):
        raise TypeError(f"{kind} name must be a str, not {type(value).__name__}")
    if not value or len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"{kind} name must have 1 to {MAX_NAME_LENGTH} characters: {value!r}")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        raise ValueError(f"{kind} name must not contain control characters: {value!r}")
    return value


def check_priority(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"priority must be an int, not {type(value).__name__}")
    if not MIN_PRIORITY <= value <= MAX_PRIORITY:
        raise ValueError(f"priority must be between {MIN_PRIORITY} and {MAX_PRIORITY}: {value}")
    return value


def check_delay(value: object, what: str = "delay") -> float:
    """Seconds (or a timedelta) from 0 up to :data:`MAX_DELAY_SECONDS`."""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"{what} must be seconds or a timedelta, not {type(value).__name__}")
    if not math.isfinite(value) or not 0 <= value <= MAX_DELAY_SECONDS:
        raise ValueError(
            f"{what} must be a finite number of seconds from 0 to {MAX_DELAY_SECONDS:g} "
            f"(ten years): {value}"
        )
    return float(value)


def check_run_after(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"run_after must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("run_after must be timezone-aware (e.g. datetime.now(UTC) + ...)")
    return value


def check_max_attempts(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1_000_000:
        raise ValueError(f"max_attempts must be an int >= 1: {value!r}")
    return value


def check_timeout(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"timeout must be seconds or None, not {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"timeout must be a positive number of seconds: {value}")
    return float(value)


def check_unique_key(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_UNIQUE_KEY_LENGTH:
        raise ValueError(f"unique_key must be a str of 1 to {MAX_UNIQUE_KEY_LENGTH} characters")
    # Keys are stored as text, not JSON: PostgreSQL text cannot hold U+0000,
    # and no database can hold a lone surrogate.
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        raise ValueError(f"unique_key must not contain control characters: {value!r}")
    return value


def check_tags(value: object) -> tuple[str, ...]:
    """A job's tags: a list of up to :data:`MAX_TAGS` distinct strings of 1 to
    :data:`MAX_TAG_LENGTH` printable characters, kept in the order given."""
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise TypeError(f"tags must be a list of str, not {type(value).__name__}")
    tags = tuple(dict.fromkeys(value))
    if len(tags) > MAX_TAGS:
        raise ValueError(f"a job carries at most {MAX_TAGS} tags, not {len(tags)}")
    for tag in tags:
        if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG_LENGTH:
            raise ValueError(f"a tag must be a str of 1 to {MAX_TAG_LENGTH} characters: {tag!r}")
        if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in tag):
            raise ValueError(f"a tag must not contain control characters: {tag!r}")
        if tag.startswith(RESERVED_TAG_PREFIX):
            raise ValueError(f"tags beginning {RESERVED_TAG_PREFIX!r} are aqueue's own: {tag!r}")
    return tags


def check_unique_states(value: object) -> tuple[str, ...] | None:
    """The statuses in which a job keeps holding its unique key: a list of
    statuses that includes ``queued`` and ``running`` (an active job always
    holds its key)."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise TypeError(f"unique_states must be a list of statuses, not {type(value).__name__}")
    known = [s.value for s in JobStatus]
    for status in value:
        if status not in known:
            raise ValueError(
                f"unknown status {status!r} in unique_states: one of {', '.join(known)}"
            )
    if not {"queued", "running"} <= set(value):
        raise ValueError(
            "unique_states must include 'queued' and 'running': an active job always holds its key"
        )
    return tuple(s for s in known if s in value)


_HEX = frozenset("0123456789abcdef")


def check_job_id(value: object, what: str = "job id") -> str:
    """A job id in its canonical form (lower-case UUID text)."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"{what} is not a job id (a UUID): {value[:80]!r}") from None


def check_job_filter(job_filter: JobFilter) -> JobFilter:
    """``job_filter`` with its cursors and id prefix in canonical form, or a
    ``ValueError`` naming what is wrong with it."""
    f = job_filter
    for status in f.statuses:
        if status not in JobStatus.__members__.values():
            raise ValueError(
                f"unknown status {status!r}: one of {', '.join(s.value for s in JobStatus)}"
            )
    for queue in f.queues:
        check_name("queue", queue)
    for task in f.tasks:
        check_name("task", task)
    # No upper bound here: a script may read a whole table (the dashboard caps
    # its pages itself).
    if isinstance(f.limit, bool) or not isinstance(f.limit, int) or f.limit < 1:
        raise ValueError(f"limit must be a positive integer: {f.limit!r}")
    if f.task_contains is not None and (
        not isinstance(f.task_contains, str) or len(f.task_contains) > MAX_NAME_LENGTH
    ):
        raise ValueError(f"a task name to search for is at most {MAX_NAME_LENGTH} characters")
    if f.due_later and not set(f.statuses) <= {"queued"}:
        raise ValueError("scheduled jobs are queued ones: due_later takes no other status")
    if f.tag is not None and (
        not isinstance(f.tag, str) or not f.tag or len(f.tag) > MAX_NAME_LENGTH
    ):
        raise ValueError(f"a tag to find is a str of 1 to {MAX_NAME_LENGTH} characters")
    _check_search(f)
    prefix = f.id_prefix
    if prefix is not None:
        prefix = prefix.strip().lower()
        digits = prefix.replace("-", "")
        if not digits or len(digits) > 32 or not set(digits) <= _HEX:
            raise ValueError(f"an id prefix is 1 to 32 hex digits: {prefix[:80]!r}")
    return replace(
        f,
        statuses=("queued",) if f.due_later else f.statuses,
        task_contains=f.task_contains or None,
        error_contains=f.error_contains or None,
        args=tuple((str(k), v) for k, v in f.args),
        id_prefix=prefix,
        before=None if f.before is None else check_job_id(f.before, "the 'before' cursor"),
        after=None if f.after is None else check_job_id(f.after, "the 'after' cursor"),
    )


_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smh])\s*$")
_PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_rate(text: str) -> tuple[int, float]:
    """``"100/m"`` as ``(100, 60.0)``; also ``/s``, ``/h`` and ``"10/5s"``."""
    match = _RATE.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"not a rate limit: {text!r} (try '100/m', '5/s' or '1000/h')")
    count = int(match.group(1))
    period = (int(match.group(2)) if match.group(2) else 1) * _PERIODS[match.group(3)]
    if count < 1 or period <= 0:
        raise ValueError(f"a rate limit allows at least one start per period, not {text!r}")
    return count, period


def check_limit_key(value: str | None) -> str | None:
    """A per-job limit key (``""``: the task as a whole), checked like a name."""
    if value is None or value == "":
        return value
    return check_name("limit_key", value)


_ARG_KEY = re.compile(r"\d{1,4}|[A-Za-z_][A-Za-z0-9_]{0,99}")
#: Argument values a search compares, at most.
MAX_SEARCHED_ARGS = 5


def _check_search(f: JobFilter) -> None:
    """The filter's argument values and error text, or a ValueError."""
    if f.error_contains is not None and (
        not isinstance(f.error_contains, str) or len(f.error_contains) > 500
    ):
        raise ValueError("an error text to search for is a str of at most 500 characters")
    if len(f.args) > MAX_SEARCHED_ARGS:
        raise ValueError(f"a search compares at most {MAX_SEARCHED_ARGS} arguments")
    for pair in f.args:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise ValueError(f"an argument to search for is a (name, value) pair: {pair!r:.80}")
        key, value = pair
        if not isinstance(key, str) or not _ARG_KEY.fullmatch(key):
            raise ValueError(
                "an argument is named by a keyword (letters, digits, _) or a position "
                f"(0, 1, ...): {key!r:.80}"
            )
        if not isinstance(value, str | int | float) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            raise ValueError(
                f"an argument's value to search for is a str, int, float or bool: {value!r:.80}"
            )
        if isinstance(value, str) and len(value) > 1000:
            raise ValueError("an argument's value to search for is at most 1,000 characters")


def argument_search(text: str) -> tuple[str, Any]:
    """``name=value`` (a keyword argument) or ``0=value`` (a position) as a
    search of :class:`~aqueue.records.JobFilter`'s ``args``: the value read as
    JSON when it is a number, ``true``/``false`` or a quoted string, else as
    the text itself (``user_id=42``, ``email=a@b.c``)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"an argument search is name=value: {text[:80]!r}")
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    if not isinstance(value, str | int | float):
        value = raw
    return key.strip(), value
