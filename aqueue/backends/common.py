"""Helpers shared by the backends: row decoding and retry of transient errors."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from aqueue import serialization
from aqueue.backends.base import CallerConnection
from aqueue.errors import AqueueError
from aqueue.records import (
    FINAL_STATUS_NAMES,
    SEARCH_WINDOW,
    ClaimedJob,
    FlowRow,
    JobFilter,
    JobInfo,
    JobStatus,
    NewJob,
    PastAttempt,
    WorkerInfo,
)

T = TypeVar("T")
log = logging.getLogger("aqueue.backend")

#: The column order every backend selects for a JobInfo.
JOB_COLUMNS = (
    "id, task, queue, status, priority, attempts, max_attempts, args, kwargs, result, error, "
    "created_at, scheduled_at, started_at, finished_at, worker, unique_key, progress, "
    "cancel_requested, history, meta, timeout, limit_key, waiting"
)

#: The columns of an imported row, in the order the import statements take them.
IMPORTED_COLUMNS = (
    "id",
    "task",
    "queue",
    "status",
    "priority",
    "attempts",
    "max_attempts",
    "timeout",
    "args",
    "kwargs",
    "result",
    "error",
    "progress",
    "history",
    "meta",
    "unique_key",
    "worker",
    "cancel_requested",
    "created_at",
    "scheduled_at",
    "started_at",
    "finished_at",
)

LEASE_EXPIRED_MESSAGE = "the worker stopped renewing its lease (it crashed or lost the database)"
WORKER_GONE_MESSAGE = "the worker's process is gone (seen by a worker on the same node)"


def as_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.fromtimestamp(float(value), UTC)


def flow_row(r: Sequence[Any]) -> FlowRow:
    """A row of the ``flow_of_*`` queries (sums come back as decimals)."""
    return FlowRow(
        int(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), None if r[5] is None else int(r[5])
    )


def _lenient(values: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """Decode stored JSON fields; a field that is not JSON becomes None and is named."""
    decoded: dict[str, Any] = {}
    for field, text in values.items():
        try:
            decoded[field] = serialization.decode(text)
        except ValueError as exc:
            decoded[field] = None
            problems.append(f"{field}: {exc}")
    return decoded


def decode_arguments(args: Any, kwargs: Any) -> tuple[list[Any], dict[str, Any], str | None]:
    """A claimed row's arguments, or empty ones and why they cannot be used.

    Rows written around aqueue (by hand, by another tool, or a half-migrated
    table) may hold text that is not JSON, or JSON of the wrong shape.
    """
    try:
        decoded_args = serialization.decode(args)
        decoded_kwargs = serialization.decode(kwargs)
    except (TypeError, ValueError) as exc:
        return [], {}, f"the stored arguments are not valid JSON: {exc}"
    if not isinstance(decoded_args, list) or not isinstance(decoded_kwargs, dict):
        return (
            [],
            {},
            (
                f"the stored arguments must be a JSON array and object, not "
                f"{type(decoded_args).__name__} and {type(decoded_kwargs).__name__}"
            ),
        )
    return decoded_args, decoded_kwargs, None


def _meta(stored: Any) -> dict[str, Any] | None:
    """The ``meta`` column: a JSON object aqueue wrote, or None."""
    if stored is None:
        return None
    try:
        value = serialization.decode(stored)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def claimed_jobs(rows: Iterable[Sequence[Any]]) -> list[ClaimedJob]:
    """Claimed rows ``(id, task, queue, priority, args, kwargs, attempts,
    max_attempts, timeout, scheduled_at, meta)`` in the order they must start:
    priority, then due time, then id (UPDATE ... RETURNING keeps no order)."""
    ordered = sorted(rows, key=lambda r: (-r[3], r[9], str(r[0])))
    jobs = []
    for r in ordered:
        args, kwargs, problem = decode_arguments(r[4], r[5])
        jobs.append(
            ClaimedJob(
                id=str(r[0]),
                task=r[1],
                queue=r[2],
                priority=int(r[3]),
                args=args,
                kwargs=kwargs,
                attempts=int(r[6]),
                max_attempts=int(r[7]),
                timeout=r[8],
                decode_error=problem,
                meta=_meta(r[10]) if len(r) > 10 else None,
                due=r[9],
            )
        )
    return jobs


def row_to_info(row: Sequence[Any] | Mapping[str, Any]) -> JobInfo:
    """Turn a row selected with :data:`JOB_COLUMNS` into a :class:`JobInfo`."""
    values = list(row.values()) if isinstance(row, Mapping) else list(row)
    (
        job_id,
        task,
        queue,
        status,
        priority,
        attempts,
        max_attempts,
        args,
        kwargs,
        result,
        error,
        created,
        scheduled,
        started,
        finished,
        worker,
        unique_key,
        progress,
        cancel_requested,
        history,
        meta,
        timeout,
        limit_key,
        waiting,
    ) = values
    created_at = as_utc(created)
    scheduled_at = as_utc(scheduled)
    assert created_at is not None and scheduled_at is not None
    problems: list[str] = []
    json_fields = _lenient(
        {"args": args, "kwargs": kwargs, "result": result, "error": error, "progress": progress},
        problems,
    )
    return JobInfo(
        id=str(job_id),
        task=task,
        queue=queue,
        status=JobStatus(status),
        priority=int(priority),
        attempts=int(attempts),
        max_attempts=int(max_attempts),
        args=json_fields["args"] if isinstance(json_fields["args"], list) else [],
        kwargs=json_fields["kwargs"] if isinstance(json_fields["kwargs"], dict) else {},
        result=json_fields["result"],
        error=json_fields["error"]
        if isinstance(json_fields["error"], dict | None)
        else {"type": "Error", "message": str(json_fields["error"]), "traceback": None},
        created_at=created_at,
        scheduled_at=scheduled_at,
        started_at=as_utc(started),
        finished_at=as_utc(finished),
        worker=worker,
        unique_key=unique_key,
        progress=json_fields["progress"],
        cancel_requested=bool(cancel_requested),
        history=past_attempts(history),
        meta=_meta(meta),
        timeout=None if timeout is None else float(timeout),
        decode_error="; ".join(problems) or None,
        limit_key=limit_key,
        waiting=None if waiting is None else int(waiting),
    )


def _moment(value: Any) -> datetime | None:
    """A time as a backend's JSON functions write it: ISO text or Unix seconds."""
    if isinstance(value, str):
        try:
            return (
                as_utc(float(value))
                if value[:1].isdigit() and "-" not in value
                else as_utc(datetime.fromisoformat(value))
            )
        except ValueError:
            return None
    return as_utc(value) if isinstance(value, int | float) else None


def past_attempts(stored: Any) -> tuple[PastAttempt, ...]:
    """The ``history`` column: a JSON array written by the backends' SQL."""
    if stored is None:
        return ()
    try:
        entries = stored if isinstance(stored, list) else serialization.decode(stored)
    except ValueError:
        return ()
    if not isinstance(entries, list):
        return ()
    found = []
    for e in entries:
        if isinstance(e, dict):
            found.append(
                PastAttempt(
                    attempt=int(e.get("attempt") or 0),
                    started_at=_moment(e.get("started_at")),
                    ended_at=_moment(e.get("ended_at")),
                    outcome=str(e.get("outcome") or ""),
                    error=e.get("error") if isinstance(e.get("error"), str) else None,
                    message=e.get("message") if isinstance(e.get("message"), str) else None,
                )
            )
    return tuple(found)


def rows_to_workers(
    rows: Sequence[Sequence[Any]], running: Sequence[Sequence[Any]]
) -> list[WorkerInfo]:
    """``list_workers`` rows, with ``running_jobs_by_worker`` rows folded in."""
    jobs: dict[str, list[str]] = {}
    for worker, job_id in running:
        jobs.setdefault(str(worker), []).append(str(job_id))
    found = []
    for (
        name,
        host,
        pid,
        queues,
        concurrency,
        version,
        status,
        started,
        heartbeat,
        expires,
        stopped,
    ) in rows:
        try:
            queue_list = serialization.decode(queues)
        except ValueError:
            queue_list = None
        found.append(
            WorkerInfo(
                name=name,
                host=host,
                pid=int(pid),
                queues=queue_list if isinstance(queue_list, list) else None,
                concurrency=int(concurrency),
                version=version,
                status=status,
                started_at=as_utc(started) or datetime.fromtimestamp(0, UTC),
                heartbeat_at=as_utc(heartbeat) or datetime.fromtimestamp(0, UTC),
                expires_at=as_utc(expires) or datetime.fromtimestamp(0, UTC),
                stopped_at=as_utc(stopped),
                running_jobs=jobs.get(name, []),
            )
        )
    return found


async def delete_in_batches(delete_batch: Callable[[], Awaitable[int]], batch_size: int) -> int:
    """Repeat a bounded DELETE until it removes fewer than ``batch_size`` rows."""
    total = 0
    while True:
        deleted = await delete_batch()
        total += deleted
        if deleted < batch_size:
            return total


#: ``holders(keys, ids)``: rows ``(unique_key, id)`` of the active jobs holding
#: ``keys``, and of the jobs among ``ids`` that exist (whatever their status).
Holders = Callable[[list[str], list[str]], Awaitable[list[tuple[str | None, str]]]]


async def insert_resolving_unique_keys(
    jobs: Sequence[NewJob],
    insert: Callable[[Sequence[NewJob]], Awaitable[None]],
    holders: Holders,
) -> list[str]:
    """Insert ``jobs``, then map each job with a ``unique_key`` to the job
    holding that key (see :func:`resolve_unique_keys`)."""
    await insert(jobs)
    return await resolve_unique_keys(jobs, insert, holders)


async def resolve_unique_keys(
    jobs: Sequence[NewJob],
    insert: Callable[[Sequence[NewJob]], Awaitable[None]],
    holders: Holders,
) -> list[str]:
    """After ``jobs`` were inserted, map each job with a ``unique_key`` to its
    job: itself if its row went in, else the active job that held the key.

    A row that went in may already have run and finished (a worker can be
    that quick): it is still this call's job, never inserted twice. A key
    whose holder finished between the insert and the look-up is free again:
    those jobs, absent, are inserted once more.
    """
    keyed = [j for j in jobs if j.unique_key is not None]
    if not keyed:
        return [j.id for j in jobs]
    keys = sorted({j.unique_key for j in keyed if j.unique_key is not None})
    ids = [j.id for j in keyed]
    present: set[str] = set()
    holder: dict[str, str] = {}
    for _ in range(5):
        rows = await holders(keys, ids)
        present = {str(job_id) for _key, job_id in rows}
        holder = {}
        for key, job_id in rows:
            if key is not None and (key not in holder or str(job_id) in ids):
                holder.setdefault(key, str(job_id))
        missing = [
            j
            for j in keyed
            if j.id not in present and (j.unique_key is None or j.unique_key not in holder)
        ]
        if not missing:
            break
        await insert(missing)
    return [
        j.id if j.id in present or not j.unique_key else holder.get(j.unique_key, j.id)
        for j in jobs
    ]


async def insert_through(
    connection: CallerConnection, statement: str, params: Iterable[Any], jobs: Sequence[NewJob]
) -> list[str]:
    """Insert ``jobs`` with ``statement`` (one set of ``params`` each) on a
    caller's DB-API connection, inside its transaction; their ids. Unique keys
    are refused there: their holder could not be looked up on that connection."""
    if any(j.unique_key is not None for j in jobs):
        raise ValueError(
            "jobs with unique keys cannot be written on a caller's DB-API "
            "connection: enqueue them on aqueue's own connections"
        )
    rows = list(params)

    def write(cursor: Any) -> None:
        for values in rows:
            cursor.execute(statement, values)

    await connection.run(write)
    return [j.id for j in jobs]


class Replayable:
    """An iterator of batches that can be walked again from the start, drawing
    (and so encoding) each batch only once: a retried transaction replays it."""

    def __init__(self, batches: Iterator[list[NewJob]]) -> None:
        self._source = batches
        self._drawn: list[list[NewJob]] = []

    def __iter__(self) -> Iterator[list[NewJob]]:
        yield from self._drawn
        for batch in self._source:
            self._drawn.append(batch)
            yield batch

    def jobs(self) -> list[NewJob]:
        """Every job drawn so far."""
        return [job for batch in self._drawn for job in batch]


async def at_edge(
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    is_transient: Callable[[BaseException], bool],
    translate: Callable[[BaseException], AqueueError | None],
    borrowed: bool,
) -> T:
    """The one error edge of every backend: run ``operation``, retrying transient
    errors (deadlocks, lock timeouts) only on connections aqueue owns, and turn
    driver errors into :mod:`aqueue.errors` ones that keep the original as
    ``__cause__``.

    On a ``borrowed`` connection (the caller's transaction) nothing is retried:
    a deadlock has rolled back the caller's whole transaction, and a retried
    statement would commit on its own, apart from the caller's other writes.
    """
    try:
        if borrowed:
            return await operation()
        return await retry_transient(operation, is_transient, what)
    except AqueueError:
        raise
    except Exception as exc:
        translated = translate(exc)
        if translated is None:
            raise
        raise translated from exc


async def retry_transient(
    operation: Callable[[], Awaitable[T]],
    is_transient: Callable[[BaseException], bool],
    what: str,
    attempts: int = 8,
) -> T:
    """Run ``operation``, retrying deadlocks and lock timeouts with a short jittered backoff."""
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except Exception as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            log.debug("%s: transient error, retrying (%s)", what, exc)
            await asyncio.sleep(min(0.5, 0.005 * 2**attempt) * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable")


def id_bounds(prefix: str) -> tuple[str, str]:
    """The lowest and highest job ids that start with ``prefix`` (hex digits,
    dashes ignored), so that a prefix search is a primary-key range."""
    digits = prefix.replace("-", "").lower()

    def dashed(hex32: str) -> str:
        return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"

    return dashed(digits.ljust(32, "0")), dashed(digits.ljust(32, "f"))


_STATUS_LITERALS = {status.value: f"'{status.value}'" for status in JobStatus}

#: Writes "the argument ``key`` (a position's digits, or a keyword) equals the
#: JSON value ``value``", binding what it needs with ``bind``.
ArgEquals = Callable[[str, str, Callable[[Any], str]], str]


def _postgres_arg_equals(key: str, value: str, bind: Callable[[Any], str]) -> str:
    if key.isdigit():
        return f"(args::jsonb -> {bind(int(key))}::int) = {bind(value)}::jsonb"
    return f"(kwargs::jsonb -> {bind(key)}::text) = {bind(value)}::jsonb"


def json_path(key: str) -> str:
    """The JSON path of an argument (``$[0]`` or ``$."name"``; names are
    letters, digits and ``_``, checked before)."""
    return f"$[{int(key)}]" if key.isdigit() else f'$."{key}"'


def list_jobs_sql(
    job_filter: JobFilter,
    bind: Callable[[Any], str],
    *,
    columns: str,
    id_cast: str = "",
    running: str = "status = 'running'",
    sources: Mapping[str, str] | None = None,
    problem_key: bool = False,
    now: str = "now()",
    contains: Callable[[str, str], str] = lambda column, marker: f"strpos({column}, {marker}) > 0",
    limited: str = "limit_key IS NOT NULL",
    arg_equals: ArgEquals | None = None,
    error_text: str = "error::text",
    search_by_join: bool = False,
) -> tuple[str, bool]:
    """The SQL of ``list_jobs`` for ``job_filter``, and whether it reads upwards.

    Only the conditions the filter uses are written, each a fixed fragment;
    ``bind`` turns a value into a bind marker, so values never enter the text.
    A filtered list is the union of up to three newest-first pages, each on
    the index that holds its rows: queued jobs (the claim index), running
    jobs (``running``: the predicate of the lease index), finished jobs (the
    partial indexes of finished jobs). No page reads more than ``limit`` rows
    past its cursor, however long the finished history. ``columns`` must name
    ``id`` unqualified (the rows are joined ``USING (id)``). ``sources``
    replaces ``aqueue_jobs`` in a page's FROM with a dialect's index hint:
    keys ``queued``, ``running``, ``finished`` and ``finished_by_name`` (the
    finished page of a queue or task filter) and ``queued_limited`` (the page
    of queued limited jobs). ``limited``: the predicate of queued limited jobs
    the dialect's index of them is found by. ``problem_key``: the dialect
    has no partial indexes and keeps ``status:task`` of failed and cancelled
    jobs in an indexed ``problem_key`` column instead (MySQL/MariaDB).
    ``now`` is the dialect's clock as SQL, for ``due_later``; ``contains``
    writes "``column`` contains the bound text" (a fixed function call, so no
    pattern characters need escaping). A search of arguments or error text
    reads each page's newest :data:`SEARCH_WINDOW` rows and keeps those that
    match: ``arg_equals`` writes "this argument equals this JSON value" (the
    default is PostgreSQL's), ``error_text`` is the error as text;
    ``search_by_join`` reads the window's ids from the index alone and joins
    their rows (MariaDB's planner otherwise scans the primary key for them).
    """
    f = job_filter
    # A page newer than a cursor is read upwards from it, then put newest first.
    ascending = bool(f.after and not f.before)
    direction = "ASC" if ascending else "DESC"

    def common(by_task: bool) -> list[str]:
        # Built afresh for each page, in text order: MySQL's markers are positional.
        where = []
        for column, values in (("queue", f.queues), ("task", f.tasks if by_task else ())):
            if values:
                where.append(f"{column} IN ({', '.join(bind(v) for v in values)})")
        if f.id_prefix:
            low, high = id_bounds(f.id_prefix)
            where.append(f"id >= {bind(low)}{id_cast} AND id <= {bind(high)}{id_cast}")
        if f.before:
            where.append(f"id < {bind(f.before)}{id_cast}")
        if f.after:
            where.append(f"id > {bind(f.after)}{id_cast}")
        if f.tag is not None:
            tagged = f"SELECT job_id FROM aqueue_job_tags WHERE tag = {bind(f.tag)}"  # noqa: S608
            where.append(f"id IN ({tagged})")
        if f.task_contains:
            where.append(contains("task", bind(f.task_contains)))
        return where

    hints = sources or {}
    equals = arg_equals or _postgres_arg_equals

    def searched() -> list[str]:
        found = [equals(k, json.dumps(v), bind) for k, v in f.args]
        if f.error_contains:
            found.append(contains(error_text, bind(f.error_contains)))
        return found

    def page(where: list[str], selected: str = "id", source: str = "", by_task: bool = True) -> str:
        where = where + common(by_task)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        table = hints.get(source, "aqueue_jobs")
        if f.args or f.error_contains:
            # The newest rows of the index, then the matches among them: a
            # bounded read whatever the history (binds in text order).
            if search_by_join:
                window, joined = "id", " JOIN aqueue_jobs USING (id)"
            else:
                window, joined = ("id, args, kwargs, error" if selected == "id" else "*"), ""
            inner = (
                f"SELECT {window} FROM {table} {clause}"  # noqa: S608 - fixed fragments
                f"ORDER BY id {direction} LIMIT {bind(SEARCH_WINDOW)}"
            )
            return (
                f"SELECT {selected} FROM ({inner}) AS w{joined} "  # noqa: S608 - fixed fragments
                f"WHERE {' AND '.join(searched())} ORDER BY id {direction} LIMIT {bind(f.limit)}"
            )
        return (
            f"SELECT {selected} FROM {table} {clause}"  # noqa: S608 - fixed fragments
            f"ORDER BY id {direction} LIMIT {bind(f.limit)}"
        )

    # Every status is no status filter: one walk of the primary key, not a page
    # of each status's index per call (PostgreSQL's plan for that union turned
    # a page of 1,000 from 40 ms to 800 ms on a million rows).
    chosen = () if set(f.statuses) >= set(JobStatus) else f.statuses
    if not (chosen or f.queues or f.tasks):
        return page([], columns), ascending
    later = [f"scheduled_at > {now}"] if f.due_later else []
    if f.tag is not None:
        # A tag's jobs are an index lookup of their own: one page of them,
        # whatever their status, filtered by it.
        wanted_statuses = ", ".join(_STATUS_LITERALS[s] for s in chosen)
        by_status = [f"status IN ({wanted_statuses})"] if chosen else []
        return page(by_status + later, columns), ascending
    wanted = set(chosen) or set(JobStatus)
    finished = sorted(wanted & set(FINAL_STATUS_NAMES))
    pages = []
    if "queued" in wanted:
        # Two pages: the claim index holds unlimited jobs, aqueue_jobs_limited
        # the others (see aqueue.limits); each predicate verbatim, for SQLite.
        # Each on its own index: a page of limited jobs read along the primary
        # key would walk the whole table when there are none.
        pages.append(page(["status = 'queued'", "limit_key IS NULL", *later], source="queued"))
        pages.append(page(["status = 'queued'", limited, *later], source="queued_limited"))
    if "running" in wanted:
        pages.append(page([running], source="running"))
    if finished:
        # Statuses are written as literals, chosen from the fixed set (never
        # the caller's text): a partial index on status is only used when the
        # planner sees the status itself, which a bind would hide.
        statuses = (
            []
            if len(finished) == 3
            else [f"status IN ({', '.join(_STATUS_LITERALS[s] for s in finished)})"]
        )
        source = "finished_by_name" if f.queues or f.tasks else "finished"
        if set(finished) <= {"failed", "cancelled"}:
            # Failed or cancelled jobs: one page per status, each a single
            # range of a partial index kept for them, on (status, id), (status,
            # queue, id) or (status, task, id). The index's own predicate is
            # repeated verbatim: SQLite only uses a partial index whose WHERE it
            # finds among the query's terms.
            for s in finished:
                if problem_key and f.tasks:
                    # s is one of the fixed final statuses, never the caller's text.
                    keys = ", ".join(f"CONCAT('{s}:', {bind(t)})" for t in f.tasks)
                    pages.append(page([f"problem_key IN ({keys})"], by_task=False))
                else:
                    pages.append(
                        page(
                            [
                                f"status = {_STATUS_LITERALS[s]}",
                                "status IN ('failed', 'cancelled')",
                            ],
                            source=source,
                        )
                    )
        else:
            pages.append(page(["finished_at IS NOT NULL", *statuses], source=source))
    # The pages pick ids only, so each can be read from its index alone (a
    # planner fetching whole rows may prefer scanning the table); the rows
    # are then fetched by primary key.
    union = " UNION ALL ".join(
        f"SELECT id FROM ({p}) AS page{i}"  # noqa: S608 - fixed fragments
        for i, p in enumerate(pages)
    )
    return (
        f"SELECT {columns} FROM (SELECT id FROM ({union}) AS pages "  # noqa: S608
        f"ORDER BY id {direction} LIMIT {bind(f.limit)}) AS chosen "
        f"JOIN aqueue_jobs USING (id) ORDER BY id {direction}"
    ), ascending
