"""The HTTP trigger endpoints (serverless / PaaS) through an ASGI client, on
each backend: the answers' shapes, the budget, retries and leases kept, the
token rules, and bad input answered with a 400, never a 500."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import aqueue
from aqueue.records import JobFilter
from aqueue.web.triggers import create_trigger_app
from tests.counting import pending

TOKEN = "trigger-token-for-tests-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def client(queue: aqueue.Queue) -> AsyncIterator[httpx.AsyncClient]:
    app = create_trigger_app(queue, token=TOKEN)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        yield c


def register(queue: aqueue.Queue) -> dict[str, Any]:
    @queue.task(name="ok")
    async def ok(value: int) -> int:
        return value * 2

    @queue.task(name="flaky", max_attempts=2, backoff=aqueue.Backoff(base=0, jitter=0))
    async def flaky() -> None:
        raise RuntimeError("not yet")

    @queue.task(name="slow", concurrency=1)  # one at a time, across all workers
    async def slow() -> None:
        await asyncio.sleep(0.3)

    return {"ok": ok, "flaky": flaky, "slow": slow}


async def test_run_processes_due_jobs_and_reports_each(
    queue: aqueue.Queue, client: httpx.AsyncClient
) -> None:
    tasks = register(queue)
    made = [await tasks["ok"].enqueue(i) for i in range(3)]
    later = await tasks["ok"].using(delay=3600).enqueue(99)
    answer = await client.post("/tasks/run/", json={"max_tasks": 10}, headers=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    assert body["processed"] == 3
    assert sorted(r["id"] for r in body["results"]) == sorted(j.id for j in made)
    assert {(r["status"], r["task_path"], r["aqueue_status"]) for r in body["results"]} == {
        ("SUCCESSFUL", "ok", "succeeded")
    }
    assert [await j.result(timeout=5) for j in made] == [0, 2, 4]
    status = await client.get("/tasks/status/", headers=AUTH)
    assert status.json() == {"pending_count": 1}  # the delayed one waits
    assert (await queue.get_job(later.id)).status == "queued"  # type: ignore[union-attr]


async def test_run_honours_max_tasks_and_queue_name(
    queue: aqueue.Queue, client: httpx.AsyncClient
) -> None:
    tasks = register(queue)
    for i in range(5):
        await tasks["ok"].using(queue="mail").enqueue(i)
    other = await tasks["ok"].using(queue="web").enqueue(7)
    body = (
        await client.post("/tasks/run/", json={"max_tasks": 2, "queue_name": "mail"}, headers=AUTH)
    ).json()
    assert body["processed"] == 2
    assert (
        await client.get("/tasks/status/", params={"queue_name": "mail"}, headers=AUTH)
    ).json() == {"pending_count": 3}
    assert (await queue.get_job(other.id)).status == "queued"  # type: ignore[union-attr]


async def test_run_one_shapes(queue: aqueue.Queue, client: httpx.AsyncClient) -> None:
    tasks = register(queue)
    empty = await client.post("/tasks/run-one/", headers=AUTH)
    assert empty.json() == {"processed": False, "result": None}
    job = await tasks["ok"].enqueue(21)
    body = (await client.post("/tasks/run-one/", json={}, headers=AUTH)).json()
    assert body["processed"] is True
    assert body["result"]["id"] == job.id and body["result"]["status"] == "SUCCESSFUL"
    assert await job.result(timeout=5) == 42


async def test_a_failed_attempt_is_retried_as_a_worker_would(
    queue: aqueue.Queue, client: httpx.AsyncClient
) -> None:
    tasks = register(queue)
    job = await tasks["flaky"].enqueue()
    first = (await client.post("/tasks/run-one/", headers=AUTH)).json()["result"]
    assert (first["id"], first["status"], first["aqueue_status"]) == (job.id, "READY", "queued")
    second = (await client.post("/tasks/run-one/", headers=AUTH)).json()["result"]
    assert (second["status"], second["attempts"]) == ("FAILED", 2)
    info = await queue.get_job(job.id)
    assert info is not None and info.status == "failed" and len(info.history) == 1


async def test_no_job_starts_after_the_time_budget(
    queue: aqueue.Queue, client: httpx.AsyncClient
) -> None:
    tasks = register(queue)
    for _ in range(6):
        await tasks["slow"].enqueue()
    started = time.monotonic()
    # One at a time, all six take 1.8 s; the budget stops starting jobs at
    # 0.1 s, while the first still runs, and that one finishes.
    body = (
        await client.post("/tasks/run/", json={"max_tasks": 6, "time_budget_s": 0.1}, headers=AUTH)
    ).json()
    took = time.monotonic() - started
    assert body["processed"] == 1 and body["results"][0]["status"] == "SUCCESSFUL"
    assert await pending(queue) == 5
    assert took < 1.5
    running = await queue.jobs.list(JobFilter(statuses=("running",)))
    assert running == []  # nothing left held by the call


@pytest.mark.parametrize(
    "body",
    [
        {"max_tasks": 0},
        {"max_tasks": 1000},
        {"max_tasks": "5"},
        {"max_tasks": True},
        {"max_tasks": 2.5},
        {"queue_name": 5},
        {"queue_name": ""},
        {"time_budget_s": -1},
        {"time_budget_s": "soon"},
        {"time_budget_s": 1e9},
        {"unknown": 1},
        [1, 2],
        "text",
        # Regression: queue names skipped the name check (a U+0000 held the request
        # for its whole budget on PostgreSQL, logging tracebacks).
        {"queue_name": "a\x00b"},
        b'{"queue_name": "\\ud800"}',
        {"queue_name": "q" * 201},
        {"queue_name": "tab\there"},
    ],
)
async def test_bad_bodies_get_400(
    queue: aqueue.Queue, client: httpx.AsyncClient, body: Any
) -> None:
    tasks = register(queue)
    job = await tasks["ok"].enqueue(1)
    if isinstance(body, bytes):  # JSON text httpx would not make (a lone surrogate)
        answer = await client.post("/tasks/run/", content=body, headers=AUTH)
    else:
        answer = await client.post("/tasks/run/", json=body, headers=AUTH)
    assert answer.status_code == 400, answer.text
    assert "error" in answer.json()
    assert (await queue.get_job(job.id)).status == "queued"  # type: ignore[union-attr]


async def test_malformed_requests_get_4xx(queue: aqueue.Queue, client: httpx.AsyncClient) -> None:
    register(queue)
    for content in (b"{not json", b"\xff\xfe", b"[" * 100_00 + b"]" * 100_00):
        answer = await client.post("/tasks/run/", content=content, headers=AUTH)
        assert answer.status_code == 400 and "error" in answer.json()
    answer = await client.post("/tasks/run/", content=b"x" * 70_000, headers=AUTH)
    assert answer.status_code == 413 and "error" in answer.json()
    for name in ("%00", "a%0Ab", "x" * 201):
        answer = await client.get(f"/tasks/status/?queue_name={name}", headers=AUTH)
        assert answer.status_code == 400, answer.text
    assert (
        await client.post("/tasks/run-one/", json={"max_tasks": 3}, headers=AUTH)
    ).status_code == 400
    assert (
        await client.get("/tasks/status/", params={"queue": "x"}, headers=AUTH)
    ).status_code == 400
    assert (await client.get("/tasks/run/", headers=AUTH)).status_code == 405


async def test_token_rules(queue: aqueue.Queue, client: httpx.AsyncClient) -> None:
    tasks = register(queue)
    job = await tasks["ok"].enqueue(1)
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-wrong-token"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        answer = await client.post("/tasks/run/", headers=headers)
        assert answer.status_code == 401 and answer.headers["www-authenticate"]
        assert TOKEN not in answer.text
        assert (await client.get("/tasks/status/", headers=headers)).status_code == 401
    assert (await queue.get_job(job.id)).status == "queued"  # type: ignore[union-attr]


async def test_without_a_token_running_is_refused_unless_opened(queue: aqueue.Queue) -> None:
    tasks = register(queue)
    job = await tasks["ok"].enqueue(1)
    closed = create_trigger_app(queue)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=closed), base_url="http://localhost"
    ) as c:
        assert (await c.post("/tasks/run/")).status_code == 403
        assert (await c.post("/tasks/run-one/")).status_code == 403
        assert (await c.get("/tasks/status/")).json() == {"pending_count": 1}
    assert (await queue.get_job(job.id)).status == "queued"  # type: ignore[union-attr]
    opened = create_trigger_app(queue, allow_unauthenticated=True, prefix="/jobs")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=opened), base_url="http://localhost"
    ) as c:
        # Open without a credential: only to loopback names (DNS rebinding).
        assert (await c.post("/jobs/run/", headers={"Host": "evil.example"})).status_code == 400
        assert (await c.post("/jobs/run/")).json()["processed"] == 1
    with pytest.raises(ValueError, match="at least 16"):
        create_trigger_app(queue, token="short")
