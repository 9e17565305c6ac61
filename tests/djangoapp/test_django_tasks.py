"""aqueue as a Django 6 task backend, in a real project on a real database:
enqueue on Django's connection (inside transactions), validation with
Django's exceptions, results, the worker command, the trigger views and the
mounted dashboard."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.db import connection, transaction
from django.tasks import TaskResultStatus, default_task_backend
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.test import Client
from django.utils import timezone

from aqueue import serialization
from aqueue.job import Job
from aqueue.middleware import EnqueueNext
from aqueue.task import JobRequest
from tests.djangoapp.conftest import ROOT
from tests.djangoapp.shop import tasks
from tests.djangoapp.shop.models import Order

pytestmark = pytest.mark.usefixtures("clean")
TRIGGER = {"HTTP_AUTHORIZATION": "Bearer django-trigger-token-0123"}


def run_worker(*extra: str, debug: bool = False) -> subprocess.CompletedProcess[str]:
    """``manage.py aqueue_worker --burst`` in a process of its own (``debug``:
    with ``DEBUG = True``, as startproject makes it)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.djangoapp.manage",
            "aqueue_worker",
            "--burst",
            "--log-level",
            "WARNING",
            *extra,
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.djangoapp.settings",
            "AQUEUE_TEST_DJANGO_DEBUG": "1" if debug else "0",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def count_jobs() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM aqueue_jobs")
        return int(cursor.fetchone()[0])


def test_the_backend_says_what_it_supports() -> None:
    backend = default_task_backend
    assert (
        backend.supports_defer,
        backend.supports_async_task,
        backend.supports_get_result,
        backend.supports_priority,
    ) == (True, True, True, True)


def test_enqueue_then_the_worker_command_runs_it() -> None:
    order = Order.objects.create(email="ann@example.com")
    result = tasks.send_receipt.enqueue(order.id)
    assert result.status == TaskResultStatus.READY and result.args == [order.id]
    fetched = tasks.send_receipt.get_result(result.id)
    assert fetched.status == TaskResultStatus.READY
    assert fetched.task.queue_name == "emails" and fetched.task.priority == 10
    done = run_worker()
    assert done.returncode == 0, done.stderr
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.is_finished
    assert result.return_value == "receipt for ann@example.com"
    assert result.attempts == 1 and result.finished_at and result.started_at
    assert Order.objects.get(pk=order.id).receipt_sent


def test_async_tasks_context_and_aenqueue() -> None:
    async def produce() -> tuple[str, str]:
        first = await tasks.add.aenqueue(2, 3)
        second = await tasks.report.aenqueue("hello")
        return first.id, second.id

    add_id, report_id = asyncio.run(produce())
    assert run_worker().returncode == 0
    assert tasks.add.get_result(add_id).return_value == 5
    reported = asyncio.run(tasks.report.aget_result(report_id))
    assert reported.return_value == {
        "label": "hello",
        "attempt": 1,
        "id": report_id,
        "vendor": connection.vendor,
    }


def test_a_failing_task_ends_failed_with_its_errors() -> None:
    result = tasks.explode.enqueue()
    first = run_worker("--log-level", "INFO", debug=True)  # its retry is backed off
    assert first.returncode == 0, first.stderr
    result.refresh()
    assert result.status == TaskResultStatus.READY and result.attempts == 1
    # Regression: a retried attempt was reported FINISHED as FAILED (Django
    # logs that as an ERROR with a traceback), and every django.tasks line
    # was printed twice (Django's console handler, then aqueue's on the root).
    assert "state=FAILED" not in first.stderr, first.stderr
    running = f"Task id={result.id} path=tests.djangoapp.shop.tasks.explode state=RUNNING"
    assert first.stderr.count(running) == 1, first.stderr
    with connection.cursor() as cursor:  # let the back-off pass
        cursor.execute("UPDATE aqueue_jobs SET scheduled_at = created_at")
    last = run_worker("--log-level", "INFO", debug=True)
    assert last.returncode == 0
    assert (
        last.stderr.count(
            f"Task id={result.id} path=tests.djangoapp.shop.tasks.explode state=FAILED"
        )
        == 1
    ), last.stderr
    result.refresh()
    assert result.status == TaskResultStatus.FAILED and result.attempts == 2
    assert len(result.errors) == 2
    assert result.errors[-1].exception_class is ValueError
    assert "kaboom" in result.errors[-1].traceback
    with pytest.raises(ValueError, match="failed"):
        _ = result.return_value


def test_a_job_row_never_makes_the_worker_import_a_module() -> None:
    """Regression: the worker imported whatever module a job row named before
    checking it was a task (``this.x`` printed the Zen of Python;
    ``venv.__main__.x`` raised SystemExit, killing the worker and leaving the
    job running). Now only the project's own tasks are found."""
    queue = default_task_backend.queue
    names = [
        "this.x",
        "venv.__main__.x",
        "antigravity.fly",
        "tests.djangoapp.settings.DEBUG",
        "os.system",
    ]

    async def enqueue() -> list[str]:
        async with queue:
            return [(await queue.enqueue(name)).id for name in names]

    ids = asyncio.run(enqueue())
    good = tasks.add.enqueue(1, 1)
    done = run_worker("--log-level", "INFO")
    assert done.returncode == 0, done.stderr
    assert "Beautiful is better than ugly" not in done.stdout + done.stderr
    for job_id in ids:
        with pytest.raises(TaskResultDoesNotExist):
            default_task_backend.get_result(job_id)
    assert "this" not in sys.modules and "antigravity" not in sys.modules

    async def statuses() -> list[tuple[str, str]]:
        async with queue:
            found = [await queue.get_job(job_id) for job_id in ids]
        return [(j.status.value, j.error["message"]) for j in found if j and j.error]

    ended = asyncio.run(statuses())
    assert len(ended) == len(names)
    assert all(status == "failed" and "unknown task" in message for status, message in ended)
    assert tasks.add.get_result(good.id).return_value == 2


def test_enqueue_joins_the_callers_transaction() -> None:
    order = Order.objects.create(email="bo@example.com")
    with pytest.raises(RuntimeError), transaction.atomic():
        tasks.send_receipt.enqueue(order.id)
        assert count_jobs() == 1  # written on Django's connection, in the transaction
        raise RuntimeError("the view failed")
    assert count_jobs() == 0  # rolled back with it
    with transaction.atomic():
        kept = tasks.send_receipt.enqueue(order.id)
    assert count_jobs() == 1
    assert tasks.send_receipt.get_result(kept.id).status == TaskResultStatus.READY


def test_enqueue_middleware_runs_for_django_jobs() -> None:
    """Django's enqueue goes through the queue's own: its enqueue middleware
    (tracing is one) runs and can change the job, inside the caller's
    transaction, which still rolls the job back."""
    queue = default_task_backend.queue
    seen: list[list[str]] = []

    async def stamp(requests: list[JobRequest], call_next: EnqueueNext) -> list[Job[Any]]:
        seen.append([r.task for r in requests])
        meta = serialization.encode({"stamped": "yes"})
        return await call_next(
            [
                dataclasses.replace(r, options=dataclasses.replace(r.options, meta=meta))
                for r in requests
            ]
        )

    queue.middleware.enqueue(stamp)
    try:
        order = Order.objects.create(email="di@example.com")
        with pytest.raises(RuntimeError), transaction.atomic():
            tasks.send_receipt.enqueue(order.id)
            raise RuntimeError("the view failed")
        assert count_jobs() == 0 and len(seen) == 1
        with transaction.atomic():
            kept = tasks.send_receipt.enqueue(order.id)
        assert seen[-1] == ["tests.djangoapp.shop.tasks.send_receipt"]
        info = queue.get_job_sync(kept.id)
        assert info is not None and info.meta == {"stamped": "yes"}
    finally:
        queue.middleware.enqueues.remove(stamp)


def test_a_view_enqueues_with_its_data() -> None:
    order = Order.objects.create(email="cy@example.com")
    answer = Client().post(f"/orders/{order.id}/pay/")
    assert answer.status_code == 200
    assert Order.objects.get(pk=order.id).paid
    assert run_worker("--queue", "emails").returncode == 0
    assert tasks.send_receipt.get_result(answer.json()["task"]).status == "SUCCESSFUL"


def test_the_worker_takes_slots_per_queue() -> None:
    mail = [tasks.add.using(queue_name="emails").enqueue(n, 1) for n in range(3)]
    rest = [tasks.add.enqueue(n, 2) for n in range(3)]
    done = run_worker("--queue", "emails=1", "--queue", "default=2", "--log-level", "INFO")
    assert done.returncode == 0, done.stderr
    assert "queues emails=1,default=2" in done.stderr
    assert [tasks.add.get_result(r.id).return_value for r in mail] == [1, 2, 3]
    assert [tasks.add.get_result(r.id).return_value for r in rest] == [2, 3, 4]
    bad = run_worker("--queue", "emails=0")
    assert bad.returncode != 0 and "at least 1" in bad.stderr


def test_tasks_run_in_child_processes_with_django_set_up() -> None:
    order = Order.objects.create(email="child@example.com")
    receipt = tasks.send_receipt.enqueue(order.id)  # the ORM, in a child
    pids = [tasks.whose_pid.enqueue() for _ in range(4)]
    done = run_worker("--processes", "2")
    assert done.returncode == 0, done.stderr
    assert tasks.send_receipt.get_result(receipt.id).return_value == "receipt for child@example.com"
    assert Order.objects.get(pk=order.id).receipt_sent
    results = [tasks.whose_pid.get_result(r.id) for r in pids]
    worker_pid = int(results[0].worker_ids[0].split(":")[1])
    ran_in = {r.return_value for r in results}
    assert worker_pid not in ran_in and 1 <= len(ran_in) <= 2


def test_run_after_priority_and_queue_name() -> None:
    later = tasks.add.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(1, 1)
    urgent = tasks.add.using(priority=100, queue_name="emails").enqueue(2, 2)
    info = default_task_backend.get_result(urgent.id)
    assert (info.task.priority, info.task.queue_name) == (100, "emails")
    assert run_worker().returncode == 0
    assert tasks.add.get_result(later.id).status == TaskResultStatus.READY  # not due
    assert tasks.add.get_result(urgent.id).return_value == 4


def test_djangos_validation_and_bad_arguments() -> None:
    with pytest.raises(InvalidTask, match="Queue 'nope' is not valid"):
        tasks.add.using(queue_name="nope")
    with pytest.raises(InvalidTask, match="priority"):
        tasks.add.using(priority=101)
    with pytest.raises(InvalidTask, match="aware"):
        tasks.add.using(run_after=timezone.now().replace(tzinfo=None))
    with pytest.raises(TypeError, match="JSON"):
        tasks.add.enqueue(object(), 1)
    assert count_jobs() == 0  # nothing written for the bad one


def test_results_that_do_not_exist() -> None:
    for bad in ("01a20b74-83c0-7000-9ee3-969affe0c7dd", "not-an-id", "'; DROP TABLE x; --"):
        with pytest.raises(TaskResultDoesNotExist):
            default_task_backend.get_result(bad)


def test_trigger_views() -> None:
    order = Order.objects.create(email="di@example.com")
    result = tasks.send_receipt.enqueue(order.id)
    client = Client()
    assert client.post("/tasks/run/").status_code == 401
    assert client.get("/tasks/status/", **TRIGGER).json() == {"pending_count": 1}
    bad = client.post(
        "/tasks/run/", data={"max_tasks": 0}, content_type="application/json", **TRIGGER
    )
    assert bad.status_code == 400 and "max_tasks" in bad.json()["error"]
    assert (
        client.post("/tasks/run/", data="{", content_type="application/json", **TRIGGER).status_code
        == 400
    )
    # Regression: a 100 KB body was read whole and the job ran; and queue
    # names skipped the name check (a U+0000 answered 500 on the status view).
    padded = '{"max_tasks": 5, "queue_name": "default"' + " " * 100_000 + "}"
    too_big = client.post("/tasks/run/", data=padded, content_type="application/json", **TRIGGER)
    assert too_big.status_code == 413 and "error" in too_big.json()
    for name in ("%00", "a%0Ab"):
        assert client.get(f"/tasks/status/?queue_name={name}", **TRIGGER).status_code == 400
    assert (
        client.post(
            "/tasks/run/", data={"queue_name": "a\x00b"}, content_type="application/json", **TRIGGER
        ).status_code
        == 400
    )
    assert client.get("/tasks/status/", **TRIGGER).json() == {"pending_count": 1}
    ran = client.post(
        "/tasks/run/", data={"max_tasks": 5}, content_type="application/json", **TRIGGER
    ).json()
    assert ran["processed"] == 1
    assert ran["results"][0] == {
        "id": result.id,
        "status": "SUCCESSFUL",
        "task_path": "tests.djangoapp.shop.tasks.send_receipt",
        "aqueue_status": "succeeded",
        "attempts": 1,
    }
    assert Order.objects.get(pk=order.id).receipt_sent
    assert client.post(
        "/tasks/run-one/", data="", content_type="application/json", **TRIGGER
    ).json() == {"processed": False, "result": None}
    assert client.get("/tasks/run/", **TRIGGER).status_code == 405


def test_the_dashboard_mounts_beside_django() -> None:
    from tests.djangoapp.asgi import application

    tasks.add.enqueue(1, 2)

    job = tasks.add.enqueue(3, 4)
    dashboard = {"Authorization": "Bearer dashboard-token-0123"}

    async def browse() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as client:
            return [
                await client.get("/aqueue/api/overview", headers=dashboard),
                await client.get("/aqueue/", headers=dashboard),
                await client.get(
                    "/tasks/status/", headers={"Authorization": TRIGGER["HTTP_AUTHORIZATION"]}
                ),
                # Regression: job data was readable without the token.
                await client.get(f"/aqueue/api/jobs/{job.id}"),
                await client.get("/aqueue/api/overview"),
                await client.get("/aqueue/jobs"),
            ]

    overview, page, django_page, anonymous_job, anonymous_overview, anonymous_page = asyncio.run(
        browse()
    )
    assert overview.status_code == 200
    assert any(q["name"] == "default" for q in overview.json()["queues"])
    assert page.status_code == 200 and "aqueue" in page.text
    assert django_page.json() == {"pending_count": 2}
    assert anonymous_job.status_code == 401 and "args" not in anonymous_job.text
    assert anonymous_overview.status_code == 401
    assert anonymous_page.status_code == 303
    assert anonymous_page.headers["location"].startswith("/aqueue/login?")
