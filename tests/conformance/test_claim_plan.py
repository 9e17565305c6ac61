"""The hot statements' plans: the claim walks the claim index in order and never
sorts the queue; outcomes and lease renewals find their jobs by primary key.

Checked right after a burst of enqueues, with no ANALYZE: the moment stale
statistics once made PostgreSQL sort every queued row on each claim (~10 ms
per claim of 10 with 20,000 queued, instead of ~0.1 ms), and read the whole
running index for each batch of outcomes (~10 ms per 100, instead of ~0.7 ms).
"""

from __future__ import annotations

import json
import re
from importlib import import_module
from typing import Any

import pytest

import aqueue
from aqueue.backends.sqlfile import Queries
from aqueue.records import JobStatus, Outcome
from tests.counting import totals
from tests.raw import raw


async def _pg_plans(
    queue: aqueue.Queue, sql: str, *args: Any, analyze: bool = False
) -> tuple[list[Any], list[str]]:
    """Run ``sql`` in a transaction rolled back; its rows and the plans
    auto_explain reported for the statements it ran, nested ones (inside
    aqueue's functions) included."""
    async with raw(queue) as connection:
        conn = connection.conn
        notes: list[str] = []

        def notes_listener(_conn: Any, message: Any) -> None:
            notes.append(message.message)

        conn.add_log_listener(notes_listener)
        await conn.execute("LOAD 'auto_explain'")
        await conn.execute(
            "SET auto_explain.log_min_duration = 0; "
            "SET auto_explain.log_nested_statements = on; "
            "SET client_min_messages = log"
        )
        if analyze:
            await conn.execute("SET auto_explain.log_analyze = on")
        transaction = conn.transaction()
        await transaction.start()
        try:
            rows = await conn.fetch(sql, *args)
        finally:
            await transaction.rollback()  # a plan is read, nothing is changed
            conn.remove_log_listener(notes_listener)
        return rows, notes


def _sql(queue: aqueue.Queue, name: str, **placeholders: str) -> str:
    """One of the queue's backend's named statements (its queries.sql)."""
    module = import_module(f"aqueue.backends.{type(queue.backend).__module__.split('.')[2]}.core")
    queries: Queries = module.SQL
    return queries.render(name, **placeholders) if placeholders else queries[name]


async def _claim_plan(queue: aqueue.Queue) -> str:
    if queue.dialect == "postgresql":
        claimed, notes = await _pg_plans(queue, "SELECT * FROM aqueue_claim('plan', 5, 30, NULL)")
        assert len(claimed) == 5
        return "\n".join(n for n in notes if "SKIP LOCKED" in n)
    async with raw(queue) as sql:
        if queue.dialect == "mysql":
            rows = await sql.fetch("EXPLAIN " + _sql(queue, "select_claimable"), [5])
            return " ".join(f"key={r[5]} extra={r[9]}" for r in rows)
        rows = await sql.fetch(
            "EXPLAIN QUERY PLAN " + _sql(queue, "claim_jobs"),
            {"worker": "plan", "lease": 30.0, "limit": 5, "queues": None},
        )
        return " / ".join(str(r[-1]) for r in rows)


async def test_claim_walks_the_index_after_a_burst(queue: aqueue.Queue) -> None:
    @queue.task
    async def noop(n: int) -> None:
        return None

    await queue.enqueue_many([noop.using(priority=n % 3).prepare(n) for n in range(2000)])
    plan = await _claim_plan(queue)
    if queue.dialect == "postgresql":
        assert "Index Scan using aqueue_jobs_claim" in plan, plan
        assert "Sort" not in plan and "Bitmap" not in plan, plan
    elif queue.dialect == "mysql":
        assert "key=aqueue_jobs_claim_free" in plan and "filesort" not in plan, plan
    else:
        assert "aqueue_jobs_claim" in plan and "TEMP B-TREE" not in plan, plan
        # The picked rows are updated by the rowid the index walk yields, not
        # found again through the primary-key index.
        assert "USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
        assert "sqlite_autoindex_aqueue_jobs" not in plan, plan


async def test_outcomes_and_renewals_find_jobs_by_primary_key(queue: aqueue.Queue) -> None:
    @queue.task
    async def noop(n: int) -> None:
        return None

    await queue.enqueue_many([noop.prepare(n) for n in range(2000)])
    backend: Any = queue.backend
    claimed = await backend.claim_jobs("plan", None, 50, 30.0)
    ids = [job.id for job in claimed]
    if queue.dialect == "postgresql":
        _, notes = await _pg_plans(queue, "SELECT * FROM aqueue_renew('plan', 30, $1::uuid[])", ids)
        renew = "\n".join(n for n in notes if "ANY(p_ids)" in n)
        _, notes = await _pg_plans(
            queue,
            "SELECT * FROM aqueue_complete('plan', $1::uuid[], $2::integer[], "
            "$3::text[], $4::text[], $5::text[], $6::float8[])",
            ids,
            [job.attempts for job in claimed],
            ["succeeded"] * 50,
            ["null"] * 50,
            [None] * 50,
            [0.0] * 50,
        )
        complete = "\n".join(n for n in notes if "unnest(p_ids" in n)
        for plan in (renew, complete):
            assert "aqueue_jobs_pkey" in plan, plan
            assert "Seq Scan on aqueue_jobs" not in plan and "aqueue_jobs_leased" not in plan, plan
    elif queue.dialect == "mysql":
        # (type, key): one outcome per statement, by primary key; the
        # renewal may range over the running rows instead (MariaDB counts
        # both ranges by index dives, so stale statistics cannot mislead it).
        async with raw(queue) as sql:
            outcome = {
                "result": "null",
                "error": None,
                "status": "succeeded",
                "delay_us": 0,
                "id": ids[0],
                "attempts": claimed[0].attempts,
                "worker": "plan",
            }
            plan_of_complete = await sql.fetch("EXPLAIN " + _sql(queue, "complete_job"), outcome)
            plan_of_complete += await sql.fetch("EXPLAIN " + _sql(queue, "snooze_attempt"), outcome)
            plan_of_renew = await sql.fetch(
                "EXPLAIN " + _sql(queue, "renew_leases", ids=", ".join(["%s"] * 50)),
                [30_000_000, "plan", *ids],
            )
        assert [(r[3], r[5]) for r in plan_of_complete] == [("range", "PRIMARY")] * 2, (
            plan_of_complete
        )
        assert [r[3] for r in plan_of_renew] == ["range"], plan_of_renew
    else:
        async with raw(queue) as sql:
            plans = await sql.fetch(
                "EXPLAIN QUERY PLAN " + _sql(queue, "complete_job"),
                {
                    "id": ids[0],
                    "attempts": claimed[0].attempts,
                    "status": "succeeded",
                    "result": "null",
                    "error": None,
                    "retry_delay": 0.0,
                    "worker": "plan",
                    "snoozed": False,
                },
            )
            plans += await sql.fetch(
                "EXPLAIN QUERY PLAN " + _sql(queue, "renew_leases"),
                {"worker": "plan", "lease": 30.0, "ids": json.dumps(ids)},
            )
        searches = [str(r[-1]) for r in plans if "aqueue_jobs" in str(r[-1])]
        assert searches and all("sqlite_autoindex_aqueue_jobs" in p for p in searches), plans
    # And the plans write what they should: every held job renewed, then completed.
    assert len(await backend.renew_leases("plan", ids, 30.0)) == 50
    assert (
        await backend.complete_jobs(
            "plan",
            [Outcome(job.id, job.attempts, JobStatus.SUCCEEDED, result="null") for job in claimed],
        )
        == []
    )
    assert (await totals(queue))["default"]["succeeded"] == 50


async def test_the_claim_does_not_walk_past_held_back_limited_jobs(queue: aqueue.Queue) -> None:
    """Regression: limited jobs were in the claim index, so a backlog of them
    held back at the head of the queue was walked past by every ordinary claim
    (5,000 made each ~10x slower). Now the ordinary claim never reads them."""

    @queue.task(name="held", concurrency=1)
    async def held(n: int) -> None: ...

    @queue.task(name="free")
    async def free(n: int) -> None: ...

    await queue.enqueue_many([held.using(priority=10).prepare(n) for n in range(300)])
    await queue.enqueue_many([free.prepare(n) for n in range(20)])
    backend: Any = queue.backend
    if queue.dialect == "postgresql":
        claimed, notes = await _pg_plans(
            queue, "SELECT * FROM aqueue_claim('plan', 5, 30, NULL)", analyze=True
        )
        assert [r["task"] for r in claimed] == ["free"] * 5
        plan = "\n".join(n for n in notes if "SKIP LOCKED" in n)
        assert "aqueue_jobs_claim" in plan and "Rows Removed by Filter" not in plan, plan
    elif queue.dialect == "mysql":
        async with raw(queue) as sql:
            rows = await sql.fetch("ANALYZE FORMAT=JSON " + _sql(queue, "select_claimable"), [5])
        walked = [float(r) for r in re.findall(r'"r_rows":\s*([0-9.]+)', rows[0][0])]
        assert walked and max(walked) <= 5, rows[0][0]
    else:
        async with raw(queue) as sql:
            rows = await sql.fetch(
                "EXPLAIN QUERY PLAN " + _sql(queue, "claim_jobs"),
                {"worker": "plan", "lease": 30.0, "limit": 5, "queues": None},
            )
            definition = await sql.value(
                "SELECT sql FROM sqlite_master WHERE name = 'aqueue_jobs_claim'"
            )
        assert "USING COVERING INDEX aqueue_jobs_claim " in " / ".join(str(r[-1]) for r in rows), (
            rows
        )
        assert "limit_key IS NULL" in definition, definition
    jobs = await backend.claim_jobs("w", None, 10, 30)
    assert {j.task for j in jobs} == {"free"}


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_postgres_vacuums_the_jobs_table_eagerly(queue: aqueue.Queue) -> None:
    """Migration 0013: the churning jobs table is vacuumed at 1% dead rows,
    unthrottled, with room on each page for in-place updates (W8 grew without
    end under PostgreSQL's defaults)."""
    async with raw(queue) as sql:
        options = await sql.value("SELECT reloptions FROM pg_class WHERE relname = 'aqueue_jobs'")
    assert "autovacuum_vacuum_scale_factor=0.01" in options
    assert "autovacuum_vacuum_cost_delay=0" in options
    assert "fillfactor=80" in options
