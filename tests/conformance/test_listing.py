"""Listing jobs for operators: filters, keyset pages, bulk actions, delete, and
the overview's counts, on each backend."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import aqueue
from aqueue import JobStatus
from aqueue.records import JobFilter
from tests.raw import raw, set_time


async def _jobs(queue: aqueue.Queue) -> dict[str, list[str]]:
    """Jobs in several queues, tasks and every status; ids by label."""

    @queue.task(name="ok")
    async def ok() -> None:
        return None

    @queue.task(name="boom", max_attempts=1)
    async def boom() -> None:
        raise ValueError("boom")

    ids: dict[str, list[str]] = {"mail": [], "web": [], "failed": [], "queued": []}
    for _ in range(3):
        ids["mail"].append((await ok.using(queue="mail").enqueue()).id)
    for _ in range(2):
        ids["failed"].append((await boom.using(queue="web").enqueue()).id)
    await queue.process(10)
    for _ in range(4):
        ids["queued"].append((await ok.using(queue="web").enqueue()).id)
    return ids


async def test_filters_by_status_queue_task_and_id_prefix(queue: aqueue.Queue) -> None:
    ids = await _jobs(queue)
    every = await queue.jobs.list(JobFilter(limit=100))
    assert [j.id for j in every] == sorted((j.id for j in every), reverse=True)  # newest first
    assert len(every) == 9

    async def listed(**kw: object) -> set[str]:
        return {j.id for j in await queue.jobs.list(JobFilter(**kw))}  # type: ignore[arg-type]

    assert await listed(statuses=("failed",)) == set(ids["failed"])
    assert await listed(queues=("mail",)) == set(ids["mail"])
    assert await listed(queues=("web",)) == set(ids["failed"]) | set(ids["queued"])
    assert await listed(queues=("web",), statuses=("queued",)) == set(ids["queued"])
    assert await listed(tasks=("boom",)) == set(ids["failed"])
    assert await listed(tasks=("ok",), statuses=("succeeded", "queued")) == set(ids["mail"]) | set(
        ids["queued"]
    )
    assert await listed(statuses=("running",), queues=("web",)) == set()
    # Failed or cancelled jobs of a task: one index range per status.
    assert await listed(tasks=("boom",), statuses=("failed",)) == set(ids["failed"])
    assert await listed(tasks=("ok",), statuses=("failed",)) == set()
    assert await queue.jobs.cancel(ids["queued"][0]) == JobStatus.CANCELLED
    both = await queue.jobs.list(
        JobFilter(tasks=("ok", "boom"), limit=2, statuses=("failed", "cancelled"))
    )
    assert [j.id for j in both] == sorted([ids["queued"][0], *ids["failed"]], reverse=True)[:2]
    assert await listed(tasks=("boom",), statuses=("cancelled",), queues=("web",)) == set()
    target = ids["queued"][2]
    assert target in await listed(id_prefix=target[:20])
    assert await listed(id_prefix=target) == {target}
    assert await listed(id_prefix=target.replace("-", "").upper()) == {target}


async def test_keyset_pages_walk_every_job_once_both_ways(queue: aqueue.Queue) -> None:
    await _jobs(queue)
    for kind in ({}, {"queues": ("web",)}):
        every = [j.id for j in await queue.jobs.list(JobFilter(limit=100, **kind))]  # type: ignore[arg-type]
        seen: list[str] = []
        page = JobFilter(limit=2, **kind)  # type: ignore[arg-type]
        while True:
            got = [j.id for j in await queue.jobs.list(page)]
            seen += got
            if len(got) < 2:
                break
            page = JobFilter(limit=2, before=got[-1], **kind)  # type: ignore[arg-type]
        assert seen == every
        # Back up from the oldest: the page newer than a cursor, newest first.
        newer = [j.id for j in await queue.jobs.list(JobFilter(limit=2, after=every[-1], **kind))]  # type: ignore[arg-type]
        assert newer == every[-3:-1]


async def test_a_running_job_is_listed_under_running(queue: aqueue.Queue) -> None:
    ids = await _jobs(queue)
    claimed = await queue.backend.claim_jobs("w1", ["web"], 1, 30)
    assert len(claimed) == 1
    running = await queue.jobs.list(JobFilter(statuses=("running",), queues=("web",)))
    assert [j.id for j in running] == [claimed[0].id]
    assert claimed[0].id in ids["queued"]


@pytest.mark.parametrize(
    "bad",
    [
        JobFilter(statuses=("done",)),
        JobFilter(before="not-an-id"),
        JobFilter(after="12"),
        JobFilter(id_prefix="xyz"),
        JobFilter(id_prefix="0" * 33),
        JobFilter(limit=0),
        JobFilter(queues=("",)),
    ],
)
async def test_a_bad_filter_is_refused(queue: aqueue.Queue, bad: JobFilter) -> None:
    with pytest.raises(ValueError):
        await queue.jobs.list(bad)


async def test_bulk_retry_and_cancel_act_on_every_match(queue: aqueue.Queue) -> None:
    ids = await _jobs(queue)
    assert await queue.jobs.retry_matching(JobFilter(queues=("web",), limit=1)) == 2
    statuses = {j.id: j.status for j in await queue.jobs.list(JobFilter(limit=100))}
    assert all(statuses[i] == JobStatus.QUEUED for i in ids["failed"])
    # Only queued/running jobs are cancelled; finished ones are left alone.
    assert await queue.jobs.cancel_matching(JobFilter(queues=("web",))) == 6
    statuses = {j.id: j.status for j in await queue.jobs.list(JobFilter(limit=100))}
    assert all(statuses[i] == JobStatus.CANCELLED for i in ids["queued"] + ids["failed"])
    assert all(statuses[i] == JobStatus.SUCCEEDED for i in ids["mail"])
    assert await queue.jobs.cancel_matching(JobFilter(statuses=("succeeded",))) == 0


async def test_delete_leaves_running_jobs_alone(queue: aqueue.Queue) -> None:
    ids = await _jobs(queue)
    assert await queue.jobs.delete(ids["mail"][0]) == JobStatus.SUCCEEDED
    assert await queue.get_job(ids["mail"][0]) is None
    assert await queue.jobs.delete(ids["mail"][0]) is None
    assert await queue.jobs.delete("not-a-job-id") is None
    claimed = await queue.backend.claim_jobs("w1", ["web"], 1, 30)
    assert await queue.jobs.delete(claimed[0].id) == JobStatus.RUNNING
    assert (await queue.get_job(claimed[0].id)) is not None


async def test_overview_counts_and_recent_throughput(queue: aqueue.Queue) -> None:
    ids = await _jobs(queue)
    claimed = await queue.backend.claim_jobs("w1", ["web"], 1, 30)
    waiting = [i for i in ids["queued"] if i != claimed[0].id]
    # One queued job is due in an hour, one waited ten minutes already.
    await set_time(queue, waiting[0], "scheduled_at", 3600)
    await set_time(queue, waiting[1], "scheduled_at", -600)
    await queue.pause("idle")
    summary = {q.name: q for q in await queue.jobs.counts()}
    assert set(summary) == {"mail", "web", "idle"}
    web, mail = summary["web"], summary["mail"]
    assert (web.due, web.scheduled, web.running, web.failed) == (2, 1, 1, 2)
    assert web.oldest_due_age is not None and 590 < web.oldest_due_age < 900
    assert web.finished_5m == web.finished_60m == {"succeeded": 0, "failed": 2, "cancelled": 0}
    assert mail.finished_5m["succeeded"] == 3 and mail.due == 0
    assert mail.oldest_due_age is None and not mail.paused
    assert summary["idle"].paused and summary["idle"].due == 0
    # A job that finished two hours ago is history, not throughput.
    await set_time(queue, ids["mail"][0], "finished_at", -7200)
    await set_time(queue, ids["mail"][1], "finished_at", -1200)
    mail = {q.name: q for q in await queue.jobs.counts()}["mail"]
    assert mail.finished_60m["succeeded"] == 2 and mail.finished_5m["succeeded"] == 1


async def test_scheduled_jobs_and_task_text_are_found(queue: aqueue.Queue) -> None:
    """``due_later`` lists queued jobs due later (and those waiting for
    parents), not those due now; ``task_contains`` finds part of a name, with
    the characters a LIKE pattern would treat specially taken as they are."""

    @queue.task(name="app.emails.send")
    async def send() -> None:
        return None

    @queue.task(name="app.reports%_build")
    async def build() -> None:
        return None

    due = await send.enqueue()
    later = await send.using(delay=3600).enqueue()
    child = await send.using(after=[due]).enqueue()
    odd = await build.using(delay=60).enqueue()
    scheduled = await queue.jobs.list(JobFilter(due_later=True))
    assert [j.id for j in scheduled] == [odd.id, child.id, later.id]
    assert [j.id for j in await queue.jobs.list(JobFilter(due_later=True, tag="x"))] == []
    emails = await queue.jobs.list(JobFilter(task_contains="emails"))
    assert [j.id for j in emails] == [child.id, later.id, due.id]
    assert [j.id for j in await queue.jobs.list(JobFilter(task_contains="%_"))] == [odd.id]
    assert await queue.jobs.list(JobFilter(task_contains="_%")) == []
    assert await queue.jobs.list(JobFilter(task_contains="EMAILS")) == []  # case counts
    both = JobFilter(due_later=True, task_contains="emails", queues=("default",))
    assert [j.id for j in await queue.jobs.list(both)] == [child.id, later.id]
    with pytest.raises(ValueError, match="due_later"):
        await queue.jobs.list(JobFilter(due_later=True, statuses=("failed",)))


async def test_task_and_queue_names_and_search_by_part_of_a_task_name(
    queue: aqueue.Queue,
) -> None:
    @queue.task(name="app.emails.send")
    async def send() -> None:
        return None

    @queue.task(name="app.reports.build", concurrency=2)
    async def build() -> None:
        return None

    @queue.task(name="app.emails.bounce", max_attempts=1)
    async def bounce() -> None:
        raise ValueError("no")

    failed = (await bounce.using(queue="mail").enqueue()).id
    await queue.process(5)
    queued = (await send.using(queue="mail").enqueue()).id
    limited = (await build.using(queue="reports").enqueue()).id  # a limited queued job
    assert await queue.jobs.task_names() == [
        "app.emails.bounce",
        "app.emails.send",
        "app.reports.build",
    ]
    assert await queue.jobs.queue_names() == ["mail", "reports"]

    def ids(jobs: list[aqueue.JobInfo]) -> list[str]:
        return [j.id for j in jobs]

    assert ids(await queue.jobs.list(JobFilter(task_contains="emails"))) == [queued, failed]
    assert ids(await queue.jobs.list(JobFilter(task_contains="reports."))) == [limited]
    found = await queue.jobs.list(JobFilter(task_contains="emails", statuses=("failed",)))
    assert ids(found) == [failed]
    assert await queue.jobs.list(JobFilter(task_contains="nothing has this")) == []
    # Both filters: names that contain the text among the names given.
    both = JobFilter(task_contains="app.", tasks=("app.emails.send",))
    assert ids(await queue.jobs.list(both)) == [queued]


@pytest.mark.parametrize("database", ["mysql", "sqlite"], indirect=True)
async def test_the_queued_list_reads_limited_jobs_from_their_index(
    queue: aqueue.Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: the page of queued limited jobs was read along the primary
    key, so with none queued it walked every row (1.0 s on MariaDB, 0.27 s on
    SQLite at 1.1M jobs, for a list of queued jobs)."""

    @queue.task(name="plain")
    async def plain() -> None:
        return None

    await queue.enqueue_many([plain.prepare() for _ in range(500)])
    backend: Any = queue.backend
    seen: list[tuple[str, Any]] = []
    name = "_fetch" if queue.dialect == "mysql" else "_fetchall"
    original = getattr(backend, name)

    async def capture(sql: str, args: Any = ()) -> Any:
        seen.append((sql, args))
        return await original(sql, args)

    monkeypatch.setattr(backend, name, capture)
    assert len(await queue.jobs.list(JobFilter(statuses=("queued",), limit=10))) == 10
    monkeypatch.undo()
    sql, args = seen[-1]
    async with raw(queue) as conn:
        if queue.dialect == "mysql":
            rows = await conn.fetch("ANALYZE FORMAT=JSON " + sql, list(args))
            report = json.loads(rows[0][0])
            walked = [float(r) for r in re.findall(r'"r_rows":\s*([0-9.]+)', rows[0][0])]
            assert "aqueue_jobs_limited" in json.dumps(report), report
            assert max(walked) <= 20, report  # never the 500 rows
        else:
            plan = " / ".join(
                str(r[-1]) for r in await conn.fetch("EXPLAIN QUERY PLAN " + sql, args)
            )
            limited_page = (
                r"CO-ROUTINE page1 / SCAN aqueue_jobs USING (COVERING )?INDEX aqueue_jobs_limited"
            )
            assert re.search(limited_page, plan), plan


async def test_bulk_actions_keep_every_condition_of_the_filter(queue: aqueue.Queue) -> None:
    """Regression: a bulk retry or cancel dropped the search by part of a task
    name and the "scheduled" status, acting on every failed or queued job
    instead of the matching ones (the dashboard's "… all matching")."""

    @queue.task(name="app.emails.bounce", max_attempts=1)
    async def bounce() -> None:
        raise ValueError("no")

    @queue.task(name="app.reports.crash", max_attempts=1)
    async def crash() -> None:
        raise ValueError("no")

    await bounce.enqueue()
    await crash.enqueue()
    await queue.process(5)
    due = (await bounce.enqueue()).id
    later = (await bounce.using(delay=3600).enqueue()).id

    retried = await queue.jobs.retry_matching(JobFilter(task_contains="emails"))
    assert retried == 1
    failed = await queue.jobs.list(JobFilter(statuses=("failed",)))
    assert [j.task for j in failed] == ["app.reports.crash"]
    cancelled = await queue.jobs.cancel_matching(JobFilter(statuses=("queued",), due_later=True))
    assert cancelled == 1
    assert (await queue.get_job(later)).status == JobStatus.CANCELLED  # type: ignore[union-attr]
    assert (await queue.get_job(due)).status == JobStatus.QUEUED  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="all_jobs"):
        await queue.jobs.retry_matching(JobFilter())


async def test_search_by_argument_values_and_error_text(
    queue: aqueue.Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    @queue.task(name="send")
    async def send(user_id: int = 0, email: str = "", urgent: bool = False) -> None:
        return None

    @queue.task(name="report")
    async def report(region: str, year: int) -> None:
        return None

    @queue.task(name="charge", max_attempts=1)
    async def charge(tenant: int) -> None:
        raise RuntimeError(f"quota exceeded for tenant {tenant}")

    ann = (await send.enqueue(user_id=42, email="ann@example.com", urgent=True)).id
    bob = (await send.enqueue(user_id=7, email="bob@example.com")).id
    north = (await report.enqueue("north", 2026)).id
    failed = (await charge.enqueue(9)).id
    await queue.process(10)

    async def found(**conditions: Any) -> list[str]:
        return [j.id for j in await queue.jobs.list(JobFilter(**conditions))]

    assert await found(args=(("user_id", 42),)) == [ann]
    assert await found(args=(("user_id", "42"),)) == []  # a string is not the number
    assert await found(args=(("email", "bob@example.com"),)) == [bob]
    assert await found(args=(("urgent", True),)) == [ann]
    assert await found(args=(("0", "north"), ("1", 2026))) == [north]
    assert await found(args=(("0", "south"),)) == []
    assert await found(args=(("user_id", 42),), statuses=("failed",)) == []
    assert await found(error_contains="quota exceeded") == [failed]
    assert await found(error_contains="quota exceeded", statuses=("failed",)) == [failed]
    assert await found(error_contains="quota", tasks=("send",)) == []
    assert await found(args=(("0", 9),), error_contains="tenant 9") == [failed]
    for bad in (
        JobFilter(args=(("a-b", 1),)),
        JobFilter(args=(("x", {"a": 1}),)),
        JobFilter(args=(("x", float("nan")),)),
        JobFilter(error_contains="x" * 501),
    ):
        with pytest.raises(ValueError):
            await queue.jobs.list(bad)

    # The search reads the newest rows of each status, at most: narrowing by
    # a cursor moves the window back.
    monkeypatch.setattr("aqueue.backends.common.SEARCH_WINDOW", 3)
    for n in range(5):
        await send.enqueue(user_id=1000 + n)
    newest = await found(statuses=("queued",))
    assert await found(args=(("user_id", 1000),), statuses=("queued",)) == []
    older = await found(args=(("user_id", 1000),), statuses=("queued",), before=newest[2])
    assert len(older) == 1
