"""Jobs as portable JSON objects: ``aqueue jobs --json``, ``export``, ``import``, ``copy``.

One job is one JSON object: the fields of :class:`~aqueue.JobInfo` (times
as ISO 8601 in UTC, ``history`` as a list of objects) plus ``timeout``. The
same object is read back by :func:`job_from_dict`, which checks every field
and says which one is wrong, so a hand-edited file fails on its bad line
alone.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aqueue import serialization, validation
from aqueue.records import ImportedJob, JobInfo, JobStatus


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def job_to_dict(job: JobInfo) -> dict[str, Any]:
    """``job`` as a JSON-ready dict."""
    return {
        "id": job.id,
        "task": job.task,
        "queue": job.queue,
        "status": job.status.value,
        "priority": job.priority,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "timeout": job.timeout,
        "args": job.args,
        "kwargs": job.kwargs,
        "result": job.result,
        "error": job.error,
        "progress": job.progress,
        "created_at": _time(job.created_at),
        "scheduled_at": _time(job.scheduled_at),
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
        "worker": job.worker,
        "unique_key": job.unique_key,
        "cancel_requested": job.cancel_requested,
        "history": [
            {
                "attempt": a.attempt,
                "started_at": _time(a.started_at),
                "ended_at": _time(a.ended_at),
                "outcome": a.outcome,
                "error": a.error,
                "message": a.message,
            }
            for a in job.history
        ],
        "meta": job.meta,
        **({"decode_error": job.decode_error} if job.decode_error else {}),
    }


class BadJob(ValueError):
    """A job object that cannot be imported; the message names the field."""


def _field(
    data: Mapping[str, Any], name: str, kinds: type | tuple[type, ...], required: bool = True
) -> Any:
    value = data.get(name)
    if value is None:
        if required:
            raise BadJob(f"{name} is missing")
        return None
    # bool is an int in Python, never the other way round here.
    if not isinstance(value, kinds) or (
        isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,))
    ):
        raise BadJob(f"{name} must be {_kind_name(kinds)}, not {type(value).__name__}")
    return value


def _kind_name(kinds: type | tuple[type, ...]) -> str:
    names = [k.__name__ for k in (kinds if isinstance(kinds, tuple) else (kinds,))]
    return " or ".join(
        {
            "str": "a string",
            "int": "an integer",
            "float": "a number",
            "list": "a list",
            "dict": "an object",
            "bool": "true or false",
        }.get(n, n)
        for n in names
    )


def _parse_time(data: Mapping[str, Any], name: str, required: bool = False) -> datetime | None:
    text = _field(data, name, str, required)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadJob(f"{name} is not an ISO 8601 time: {text[:40]!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _json(value: Any) -> str | None:
    return None if value is None else serialization.encode(value)


def job_from_dict(data: Any) -> ImportedJob:
    """A job object read back, every field checked; :class:`BadJob` names the wrong one."""
    if not isinstance(data, dict):
        raise BadJob(f"a job must be a JSON object, not {type(data).__name__}")
    try:
        job_id = validation.check_job_id(_field(data, "id", str), "id")
    except ValueError:
        raise BadJob(f"id is not a UUID: {str(data.get('id'))[:40]!r}") from None
    status = _field(data, "status", str)
    if status not in {s.value for s in JobStatus}:
        raise BadJob(f"status {status[:20]!r} is not a job status")
    if status == JobStatus.RUNNING:
        raise BadJob("running jobs cannot be imported: export them with --running-as-queued")
    history = _history(_field(data, "history", list, required=False) or None)
    try:
        return ImportedJob(
            id=job_id,
            task=validation.check_name("task", _field(data, "task", str)),
            queue=validation.check_name("queue", _field(data, "queue", str)),
            status=status,
            priority=validation.check_priority(_field(data, "priority", int)),
            attempts=_non_negative(_field(data, "attempts", int)),
            max_attempts=validation.check_max_attempts(_field(data, "max_attempts", int)),
            timeout=validation.check_timeout(_field(data, "timeout", (int, float), False)),
            args=serialization.encode(_field(data, "args", list)),
            kwargs=serialization.encode(_field(data, "kwargs", dict)),
            result=_json(data.get("result")),
            error=_json(serialization.bounded_error(_field(data, "error", dict, required=False))),
            progress=_json(data.get("progress")),
            history=_json(history),
            meta=_json(_field(data, "meta", dict, required=False)),
            unique_key=validation.check_unique_key(_field(data, "unique_key", str, False)),
            worker=_worker(_field(data, "worker", str, required=False)),
            cancel_requested=bool(_field(data, "cancel_requested", bool, required=False)),
            created_at=_required_time(data, "created_at"),
            scheduled_at=_required_time(data, "scheduled_at"),
            started_at=_parse_time(data, "started_at"),
            finished_at=_parse_time(data, "finished_at"),
        )
    except BadJob:
        raise
    except (TypeError, ValueError) as exc:  # the validators' own clear messages
        raise BadJob(str(exc)) from None


#: The longest worker name every backend stores (MySQL's column).
MAX_WORKER_NAME = 255
#: Each history entry keeps the first 500 characters of its error's message.
MAX_HISTORY_MESSAGE = 500


def _worker(value: str | None) -> str | None:
    if value is None:
        return None
    if not value or len(value) > MAX_WORKER_NAME:
        raise BadJob(f"worker must have 1 to {MAX_WORKER_NAME} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        raise BadJob("worker must not contain control characters")
    return value


def _history_text(entry: Mapping[str, Any], name: str, limit: int | None = None) -> str | None:
    value = entry.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadJob(f"history {name} must be a string, not {type(value).__name__}")
    # As aqueue writes history itself: the first 500 characters.
    return value if limit is None else value[:limit]


def _history(entries: list[Any] | None) -> list[dict[str, Any]] | None:
    """Past attempts, each checked and in the form aqueue stores them."""
    if entries is None:
        return None
    checked = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise BadJob("history must be a list of objects")
        attempt = entry.get("attempt", 0)
        if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 0:
            raise BadJob("history attempt must be an integer >= 0")
        started, ended = _parse_time(entry, "started_at"), _parse_time(entry, "ended_at")
        checked.append(
            {
                "attempt": attempt,
                "started_at": _time(started),
                "ended_at": _time(ended),
                "outcome": _history_text(entry, "outcome") or "",
                "error": _history_text(entry, "error", MAX_HISTORY_MESSAGE),
                "message": _history_text(entry, "message", MAX_HISTORY_MESSAGE),
            }
        )
    return checked


def _required_time(data: Mapping[str, Any], name: str) -> datetime:
    moment = _parse_time(data, name, required=True)
    assert moment is not None
    return moment


def _non_negative(value: int) -> int:
    if value < 0:
        raise BadJob("attempts must be >= 0")
    return value
