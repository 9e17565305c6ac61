"""Dashboard page times on a big table: 1,000,000 finished and 100,000 queued jobs.

    pip install -e '.[bench,web]'
    python -m benchmarks.dashboard                       # all three backends
    python -m benchmarks.dashboard --backends sqlite --finished 20000 --queued 2000

Each backend gets a fresh database filled by one SQL statement per part (no
aqueue code is timed there): finished jobs spread over the last 7 days (2 %
failed, 1 % cancelled) in four busy queues, a rare queue (1 in 1,000 jobs)
and an old queue (only the oldest 1,000 jobs); queued jobs over the last
1,000 seconds, one in ten scheduled an hour ahead; 20 task names; two days
of the charts' flow (a row per minute and queue, as the workers write it,
through aqueue's own writes). Then the statistics are refreshed as the
database's own maintenance would (PostgreSQL's autovacuum is off on this
machine: ``VACUUM ANALYZE``; MariaDB and SQLite: ``ANALYZE``). Each page is
requested through the ASGI app in-process (template rendering included, no
network) --repeat times after one warm-up; the median and the slowest are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

import aqueue
from benchmarks.run import fresh

_QUEUES = "CASE WHEN i > {old} THEN 'old' WHEN i % 1000 = 0 THEN 'rare' ELSE {busy} END"

POSTGRES = """
INSERT INTO aqueue_jobs (id, task, queue, status, priority, args, kwargs, result, error,
    attempts, max_attempts, created_at, scheduled_at, started_at, finished_at, worker)
SELECT (lpad(to_hex((extract(epoch FROM t) * 1000)::bigint), 12, '0') || '7'
        || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid,
    'app.tasks.task_' || (i % 20), {queue},
    CASE WHEN i % 50 = 0 THEN 'failed' WHEN i % 97 = 0 THEN 'cancelled' ELSE 'succeeded' END,
    0, json_build_array(i, 'x'), '{{}}'::json, CASE WHEN i % 50 <> 0 THEN '42'::json END,
    CASE WHEN i % 50 = 0 THEN json_build_object('type', 'ValueError', 'message', 'bad',
         'traceback', 'Traceback ...') END,
    1, 3, t - interval '1 s', t - interval '1 s', t - interval '0.5 s', t, 'w1'
FROM (SELECT i, now() - i * ({span} / {n}::float8) * interval '1 s' AS t
      FROM generate_series(1, {n}) AS i) AS s;
INSERT INTO aqueue_jobs (id, task, queue, status, priority, args, kwargs, attempts,
    max_attempts, created_at, scheduled_at)
SELECT (lpad(to_hex((extract(epoch FROM t) * 1000)::bigint), 12, '0') || '7'
        || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid,
    'app.tasks.task_' || (i % 20), (ARRAY['default', 'emails', 'reports', 'webhooks'])[1 + i % 4],
    'queued', 0, json_build_array(i), '{{}}'::json, 0, 3, t,
    CASE WHEN i % 10 = 0 THEN now() + interval '1 hour' ELSE t END
FROM (SELECT i, now() - i * (1000.0 / {q}) * interval '1 s' AS t
      FROM generate_series(1, {q}) AS i) AS s;
VACUUM ANALYZE aqueue_jobs
"""

MYSQL = """
SET SESSION max_recursive_iterations = 100000000;
INSERT INTO aqueue_jobs (id, task, queue, status, neg_priority, args, kwargs, result, error,
    attempts, max_attempts, created_at, scheduled_at, started_at, finished_at, worker)
WITH RECURSIVE seq (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {n})
SELECT LOWER(INSERT(INSERT(INSERT(INSERT(CONCAT(
        LPAD(HEX(FLOOR(UNIX_TIMESTAMP(t) * 1000)), 12, '0'), '7',
        LPAD(HEX(FLOOR(RAND() * 4096)), 3, '0'), '8',
        LPAD(HEX(FLOOR(RAND() * 1152921504606846976)), 15, '0')),
        21, 0, '-'), 17, 0, '-'), 13, 0, '-'), 9, 0, '-')),
    CONCAT('app.tasks.task_', i % 20), {queue},
    CASE WHEN i % 50 = 0 THEN 'failed' WHEN i % 97 = 0 THEN 'cancelled' ELSE 'succeeded' END,
    0, CONCAT('[', i, ', "x"]'), '{{}}', IF(i % 50 <> 0, '42', NULL),
    IF(i % 50 = 0, '{{"type": "ValueError", "message": "bad", "traceback": "Traceback"}}', NULL),
    1, 3, t, t, t, t, 'w1'
FROM (SELECT i, UTC_TIMESTAMP(6) - INTERVAL FLOOR(i * {span} / {n} * 1000000) MICROSECOND AS t
      FROM seq) AS s;
INSERT INTO aqueue_jobs (id, task, queue, status, neg_priority, args, kwargs, attempts,
    max_attempts, created_at, scheduled_at)
WITH RECURSIVE seq (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {q})
SELECT LOWER(INSERT(INSERT(INSERT(INSERT(CONCAT(
        LPAD(HEX(FLOOR(UNIX_TIMESTAMP(t) * 1000)), 12, '0'), '7',
        LPAD(HEX(FLOOR(RAND() * 4096)), 3, '0'), '8',
        LPAD(HEX(FLOOR(RAND() * 1152921504606846976)), 15, '0')),
        21, 0, '-'), 17, 0, '-'), 13, 0, '-'), 9, 0, '-')),
    CONCAT('app.tasks.task_', i % 20), ELT(1 + i % 4, 'default', 'emails', 'reports', 'webhooks'),
    'queued', 0, CONCAT('[', i, ']'), '{{}}', 0, 3, t,
    IF(i % 10 = 0, UTC_TIMESTAMP(6) + INTERVAL 1 HOUR, t)
FROM (SELECT i, UTC_TIMESTAMP(6) - INTERVAL FLOOR(i * 1000 / {q} * 1000000) MICROSECOND AS t
      FROM seq) AS s;
ANALYZE TABLE aqueue_jobs
"""

SQLITE = """
INSERT INTO aqueue_jobs (id, task, queue, status, priority, args, kwargs, result, error,
    attempts, max_attempts, created_at, scheduled_at, started_at, finished_at, worker)
WITH RECURSIVE seq (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {n})
SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-'
       || substr(h, 17, 4) || '-' || substr(h, 21),
    'app.tasks.task_' || (i % 20), {queue},
    CASE WHEN i % 50 = 0 THEN 'failed' WHEN i % 97 = 0 THEN 'cancelled' ELSE 'succeeded' END,
    0, '[' || i || ', "x"]', '{{}}', CASE WHEN i % 50 <> 0 THEN '42' END,
    CASE WHEN i % 50 = 0 THEN '{{"type": "ValueError", "message": "bad", "traceback": "T"}}' END,
    1, 3, t - 1, t - 1, t - 0.5, t, 'w1'
FROM (SELECT i, t, printf('%012x7%03x8%015x', CAST(t * 1000 AS INTEGER),
                          abs(random()) % 4096, abs(random()) % 1152921504606846976) AS h
      FROM (SELECT i, (julianday('now') - 2440587.5) * 86400.0 - i * {span}.0 / {n} AS t
            FROM seq));
INSERT INTO aqueue_jobs (id, task, queue, status, priority, args, kwargs, attempts,
    max_attempts, created_at, scheduled_at)
WITH RECURSIVE seq (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {q})
SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-'
       || substr(h, 17, 4) || '-' || substr(h, 21),
    'app.tasks.task_' || (i % 20),
    CASE i % 4 WHEN 0 THEN 'default' WHEN 1 THEN 'emails' WHEN 2 THEN 'reports'
               ELSE 'webhooks' END,
    'queued', 0, '[' || i || ']', '{{}}', 0, 3, t, CASE WHEN i % 10 = 0 THEN t + 3600 ELSE t END
FROM (SELECT i, t, printf('%012x7%03x8%015x', CAST(t * 1000 AS INTEGER),
                          abs(random()) % 4096, abs(random()) % 1152921504606846976) AS h
      FROM (SELECT i, (julianday('now') - 2440587.5) * 86400.0 - i * 1000.0 / {q} AS t
            FROM seq));
ANALYZE
"""

BUSY = {
    "postgresql": "(ARRAY['default', 'emails', 'reports', 'webhooks'])[1 + i % 4]",
    "mysql": "ELT(1 + i % 4, 'default', 'emails', 'reports', 'webhooks')",
    "sqlite": "CASE i % 4 WHEN 0 THEN 'default' WHEN 1 THEN 'emails' "
    "WHEN 2 THEN 'reports' ELSE 'webhooks' END",
}
SCRIPTS = {"postgresql": POSTGRES, "mysql": MYSQL, "sqlite": SQLITE}


async def fill(queue: aqueue.Queue, finished: int, queued: int) -> None:
    backend: Any = queue.backend
    span = 7 * 86400
    queue_sql = _QUEUES.format(old=finished - 1000, busy=BUSY[queue.dialect])
    script = SCRIPTS[queue.dialect].format(n=finished, q=queued, span=span, queue=queue_sql)
    for statement in (s.strip() for s in script.split(";")):
        if not statement:
            continue
        if queue.dialect == "postgresql":
            await backend._run("fill", lambda c, s=statement: c.execute(s))
        elif queue.dialect == "mysql":
            await backend._fetch(statement.replace("%", "%%"))  # no binds: % is literal
        else:
            await backend._fetchall(statement, {})


async def fill_flow(queue: aqueue.Queue) -> None:
    from aqueue.backends.base import Flow
    from aqueue.flow import KEEP, minute_of
    from aqueue.records import FlowRow

    backend = queue.backend
    assert isinstance(backend, Flow)
    last = minute_of(time.time())
    names = ("default", "emails", "reports", "webhooks", "rare", "old")
    minutes = [last - 60 * m for m in range(KEEP // 60)]
    rows = [FlowRow(m, q, 100 + m % 7, m % 3, m % 5) for m in minutes for q in names]
    for start in range(0, len(rows), 2000):
        await backend.add_flow(rows[start : start + 2000])
    for m in minutes:
        await backend.set_depths(m, [(q, 500 + m % 11) for q in names])


async def pages(queue: aqueue.Queue) -> list[str]:
    from aqueue.records import JobFilter

    failed = await queue.jobs.list(JobFilter(statuses=("failed",), limit=1))
    middle = await queue.jobs.list(
        JobFilter(
            limit=1, before=(await queue.jobs.list(JobFilter(queues=("old",), limit=1)))[0].id
        )
    )
    return [
        "/",
        "/?range=day",
        "/?range=day&queue=emails",
        "/api/flow?range=day",
        "/api/overview",
        "/jobs",
        "/jobs?status=failed",
        "/jobs?status=queued",
        "/jobs?status=succeeded",
        "/jobs?status=cancelled&queue=rare",
        "/jobs?queue=rare",
        "/jobs?queue=old",
        "/jobs?queue=emails&status=queued",
        "/jobs?status=scheduled",
        "/jobs?task=app.tasks.task_3",
        "/jobs?task=task_3",
        "/jobs?task=no-such-task",
        "/jobs?task=no-such-task&status=failed",
        "/jobs?task=app.tasks.task_3&status=failed",
        "/jobs?tag=nightly",
        "/jobs?arg=0=50",
        "/jobs?arg=0=-1",
        "/jobs?arg=0=-1&status=succeeded",
        "/jobs?arg=0=-1&task=app.tasks.task_3",
        "/jobs?error=bad&status=failed",
        "/jobs?error=no-such-error&status=failed",
        f"/jobs?id={failed[0].id[:9]}",
        f"/jobs?before={middle[0].id}",
        f"/jobs?status=failed&before={failed[0].id}",
        f"/jobs/{failed[0].id}",
        "/workers",
        "/api/jobs?limit=500",
    ]


async def measure(
    backend: str, finished: int, queued: int, repeat: int, scratch: Path
) -> list[tuple[str, float, float]]:
    from aqueue.web import create_app

    dsn = await fresh(backend, scratch)
    queue = aqueue.Queue(dsn)
    async with queue:
        started = time.perf_counter()
        await fill(queue, finished, queued)
        await fill_flow(queue)
        print(
            f"{backend}: filled {finished:,} finished + {queued:,} queued jobs in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        token = "benchmark-token-0123456789"
        app = create_app(queue, token=token, read_only=True)
        results = []
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://localhost",
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            for path in await pages(queue):
                times = []
                for n in range(repeat + 1):
                    t0 = time.perf_counter()
                    response = await client.get(path)
                    elapsed = (time.perf_counter() - t0) * 1000
                    assert response.status_code == 200, (path, response.text[:300])
                    if n:  # the first request warms the caches and plans
                        times.append(elapsed)
                results.append((path, statistics.median(times), max(times)))
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="postgresql,mysql,sqlite")
    parser.add_argument("--finished", type=int, default=1_000_000)
    parser.add_argument("--queued", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        for backend in args.backends.split(","):
            results = asyncio.run(
                measure(backend, args.finished, args.queued, args.repeat, Path(scratch))
            )
            print(
                f"\n| page ({backend}, {args.finished:,} finished, {args.queued:,} queued)"
                " | median ms | slowest ms | under 100 ms |"
            )
            print("|---|---|---|---|")
            for path, median, slowest in results:
                print(
                    f"| `{path if len(path) < 60 else path[:57] + '...'}` | {median:.1f} | "
                    f"{slowest:.1f} | {'yes' if slowest < 100 else 'NO'} |"
                )
            print(flush=True)


if __name__ == "__main__":
    main()
