"""The Flask example's tests, as an app's own tests would be written with
aqueue.testing: assert what a view enqueued, then run the jobs and check
their effects; retries and delays run on the test's clock."""

from __future__ import annotations

import asyncio

import pytest

import aqueue
from aqueue.testing import QueueUnderTest
from examples.flask_app import jobs
from examples.flask_app.app import app


def post(path: str, body: dict[str, object] | None = None) -> dict[str, str]:
    response = app.test_client().post(path, json=body or {})
    assert response.status_code == 202
    data: dict[str, str] = response.get_json()
    return data


async def test_signup_enqueues_one_welcome(aqueue_queue: QueueUnderTest) -> None:
    # Flask's views are sync: run them off the event loop, as a WSGI server would.
    first = await asyncio.to_thread(post, "/signup", {"email": "a@example.com"})
    again = await asyncio.to_thread(post, "/signup", {"email": "a@example.com"})
    assert again["job"] == first["job"]  # the unique key held
    [job] = aqueue_queue.enqueued(task=jobs.send_welcome, args=["a@example.com"])
    assert job.queue == "emails" and job.id == first["job"]
    assert jobs.OUTBOX == []  # nothing ran yet
    assert await aqueue_queue.drain() == 1
    assert jobs.OUTBOX == ["welcome a@example.com"]
    status = (await asyncio.to_thread(app.test_client().get, f"/jobs/{job.id}")).get_json()
    assert status == {"id": job.id, "status": "succeeded", "result": "sent to a@example.com"}


async def test_a_bad_address_fails_after_its_retries(aqueue_queue: QueueUnderTest) -> None:
    job = await jobs.send_welcome.enqueue("nobody")
    # drain() moves the clock past each retry's back-off: three attempts, no waiting.
    assert await aqueue_queue.drain() == 3
    with pytest.raises(aqueue.JobFailed, match="not an address"):
        await job.result(timeout=1)


async def test_a_delayed_job_runs_when_its_time_comes(aqueue_queue: QueueUnderTest) -> None:
    job = await jobs.send_welcome.using(delay=3600).enqueue("later@example.com")
    assert await aqueue_queue.drain(advance=False) == 0  # not due yet
    await aqueue_queue.advance(3600)
    assert await aqueue_queue.drain(advance=False) == 1
    assert await job.result(timeout=1) == "sent to later@example.com"


async def test_thumbnail_view(aqueue_eager: QueueUnderTest) -> None:
    # Eager: the enqueue inside the view runs the job before the view answers.
    answer = await asyncio.to_thread(post, "/images/7/thumbnail")
    info = await aqueue_eager.get_job(answer["job"])
    assert info is not None and info.result == {"image_id": 7, "size": 256}
    [job] = aqueue_eager.enqueued(task="flask_app.make_thumbnail")
    assert job.kwargs == {"size": 256} and job.priority == 5


async def test_eager_failures_surface_at_enqueue(aqueue_eager: QueueUnderTest) -> None:
    with pytest.raises(aqueue.JobFailed, match="not an address"):
        await jobs.send_welcome.enqueue("nobody")
