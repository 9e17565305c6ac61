"""Reading filters and forms from requests; bad input is a 400 naming it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.requests import Request

from aqueue import validation
from aqueue.records import JobFilter

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
#: Bodies of the API's requests are small: a filter or a token.
MAX_BODY_BYTES = 64 * 1024


def bad_request(message: str) -> HTTPException:
    return HTTPException(400, message)


def job_filter(values: Mapping[str, str]) -> JobFilter:
    """A :class:`JobFilter` from ``queue``, ``status`` (a job status, or
    ``scheduled``: queued and due later), ``task`` (text the task's name
    contains), ``id`` (a prefix), ``tag``, ``arg`` (``name=value``, see
    :func:`argument`), ``error`` (text the error contains), ``before``,
    ``after`` and ``limit``; empty values are ignored."""

    def one(name: str) -> str | None:
        value = values.get(name, "").strip()
        return value or None

    raw_limit = one("limit") or str(DEFAULT_PAGE_SIZE)
    try:
        limit = int(raw_limit)
    except ValueError:
        raise bad_request(f"limit must be a whole number, not {raw_limit[:40]!r}") from None
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise bad_request(f"limit must be from 1 to {MAX_PAGE_SIZE}: {limit}")
    queue, status, task = one("queue"), one("status"), one("task")
    scheduled = status == "scheduled"
    found = JobFilter(
        statuses=("queued",) if scheduled else (status,) if status else (),
        due_later=scheduled,
        queues=(queue,) if queue else (),
        task_contains=task,
        limit=limit,
        id_prefix=one("id"),
        tag=one("tag"),
        args=argument(one("arg")),
        error_contains=one("error"),
        before=one("before"),
        after=one("after"),
    )
    try:
        return validation.check_job_filter(found)
    except (TypeError, ValueError) as exc:
        raise bad_request(str(exc)) from None


def filter_query(f: JobFilter) -> dict[str, str]:
    """The query parameters that give ``f`` back (without its cursors)."""
    query = {}
    if f.queues:
        query["queue"] = f.queues[0]
    if f.statuses:
        query["status"] = "scheduled" if f.due_later else f.statuses[0]
    if f.task_contains:
        query["task"] = f.task_contains
    if f.id_prefix:
        query["id"] = f.id_prefix
    if f.tag:
        query["tag"] = f.tag
    for key, value in f.args[:1]:
        shown = value if isinstance(value, str) and _plain_text(value) else json.dumps(value)
        query["arg"] = f"{key}={shown}"
    if f.error_contains:
        query["error"] = f.error_contains
    return query


def _plain_text(value: str) -> bool:
    """Whether ``value`` reads back as the same string when not quoted."""
    try:
        json.loads(value)
    except ValueError:
        return True
    return False


def argument(text: str | None) -> tuple[tuple[str, Any], ...]:
    """``arg=name=value`` as a search (see :func:`aqueue.validation.argument_search`)."""
    if text is None:
        return ()
    try:
        return (validation.argument_search(text),)
    except ValueError as exc:
        raise bad_request(str(exc)) from None


def due_time(text: str) -> tuple[datetime | None, bool]:
    """``run_at`` of an action: ``("", False)`` for none, ``now``, or an ISO
    8601 time (UTC when it names no offset); 400 for anything else."""
    text = text.strip()
    if not text:
        return None, False
    if text.lower() == "now":
        return None, True
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise bad_request(f"run_at is not an ISO 8601 time or 'now': {text[:40]!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when, False


def priority(text: str) -> int | None:
    """``priority`` of an action: None for none; 400 unless a whole number in range."""
    text = text.strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise bad_request(f"priority must be a whole number, not {text[:40]!r}") from None
    try:
        return validation.check_priority(value)
    except ValueError as exc:
        raise bad_request(str(exc)) from None


async def body(request: Request) -> bytes:
    """The request's body, or 413 past :data:`MAX_BODY_BYTES`."""
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise HTTPException(413, "the request body is too large")
    return raw


#: The most jobs one action on a selection takes (a page's rows, at most).
MAX_SELECTED = MAX_PAGE_SIZE


async def form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the only kind the pages send); a field sent
    more than once (the ticked rows' ``ids``) is joined with commas."""
    raw = await body(request)
    try:
        pairs = parse_qsl(raw.decode(), keep_blank_values=True, max_num_fields=MAX_SELECTED + 20)
    except (UnicodeDecodeError, ValueError):
        raise bad_request("the form could not be read") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields[key] = f"{fields[key]},{value}" if key in fields else value
    return fields


def selected_ids(text: str) -> list[str]:
    """The job ids of an action on a selection (comma-separated); 400 for
    none, too many, or one that is not an id."""
    raw = [part.strip() for part in text.split(",") if part.strip()]
    if not raw:
        raise bad_request("select at least one job (ids)")
    if len(raw) > MAX_SELECTED:
        raise bad_request(f"at most {MAX_SELECTED} jobs at a time, not {len(raw)}")
    try:
        return list(dict.fromkeys(validation.check_job_id(part) for part in raw))
    except ValueError as exc:
        raise bad_request(str(exc)) from None


def job_id(raw: str) -> str:
    """A job id from a path, or 404 (an id that cannot exist names no job)."""
    try:
        return validation.check_job_id(raw)
    except ValueError:
        raise HTTPException(404, "no such job") from None


def queue_name(raw: str) -> str:
    try:
        return validation.check_name("queue", raw)
    except ValueError as exc:
        raise bad_request(str(exc)) from None


def flow_params(values: Mapping[str, str]) -> tuple[str, str | None]:
    """The charts' ``range`` (``hour``, the default, or ``day``) and ``queue``
    (empty: all queues)."""
    from aqueue.web.flow import RANGES

    span = values.get("range", "").strip() or "hour"
    if span not in RANGES:
        raise bad_request(f"range must be one of {', '.join(RANGES)}, not {span[:40]!r}")
    queue = values.get("queue", "").strip() or None
    if queue is not None and len(queue) > 255:
        raise bad_request("a queue name has at most 255 characters")
    return span, queue
