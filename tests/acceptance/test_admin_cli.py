"""The ``aqueue`` admin commands against each backend, as a user runs them."""

from __future__ import annotations

import asyncio
import json
import subprocess

import aqueue
from aqueue import JobStatus
from tests.acceptance.helpers import ADMIN, ROOT
from tests.databases import TestDatabase
from tests.seam import registry


def _aqueue(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ADMIN, *args, "--dsn", dsn], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


async def _prepare(dsn: str) -> dict[str, str]:
    queue = aqueue.Queue(dsn)
    async with queue:

        @queue.task(name="cli.ok")
        async def ok() -> int:
            return 1

        @queue.task(name="cli.bad", max_attempts=1)
        async def bad() -> None:
            raise ValueError("broken")

        done = await ok.enqueue()
        failed = await bad.enqueue()
        await queue.process(2)
        waiting = await ok.using(queue="later", delay=3600).enqueue()
        return {"done": done.id, "failed": failed.id, "waiting": waiting.id}


async def _status(dsn: str, job_id: str) -> JobStatus | None:
    queue = aqueue.Queue(dsn)
    async with queue:
        info = await queue.get_job(job_id)
        return None if info is None else info.status


def test_admin_commands(database: TestDatabase) -> None:
    dsn = database.dsn
    migrated = _aqueue(dsn, "migrate")
    assert migrated.returncode == 0 and "up to date" in migrated.stdout  # idempotent
    # Regression: on MariaDB an up-to-date migrate printed aiomysql's
    # "Table 'aqueue_migrations' already exists" warning.
    assert migrated.stderr == "", migrated.stderr
    ids = asyncio.run(_prepare(dsn))

    status = _aqueue(dsn, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout) == {
        "default": {"succeeded": 1, "failed": 1},
        "later": {"queued": 1},
    }
    table = _aqueue(dsn, "status").stdout
    assert "later" in table and "queued" in table

    listed = json.loads(_aqueue(dsn, "jobs", "--status", "failed", "--json").stdout)
    assert [j["id"] for j in listed] == [ids["failed"]]
    assert listed[0]["error"]["type"] == "ValueError"
    assert ids["waiting"] in _aqueue(dsn, "jobs", "--queue", "later").stdout

    retried = _aqueue(dsn, "retry", ids["failed"], ids["done"])
    assert retried.returncode == 1  # the succeeded one cannot be retried
    assert f"{ids['failed']}: queued again" in retried.stdout
    assert "it is succeeded" in retried.stderr
    assert asyncio.run(_status(dsn, ids["failed"])) == JobStatus.QUEUED

    cancelled = _aqueue(dsn, "cancel", ids["waiting"], ids["failed"])
    assert cancelled.returncode == 0, cancelled.stderr
    assert asyncio.run(_status(dsn, ids["waiting"])) == JobStatus.CANCELLED

    dry = _aqueue(dsn, "purge", "--older-than", "0s", "--dry-run")
    assert dry.returncode == 0 and "would delete 3" in dry.stdout
    assert asyncio.run(_status(dsn, ids["done"])) == JobStatus.SUCCEEDED
    kept = _aqueue(dsn, "purge", "--older-than", "1d")
    assert "deleted 0" in kept.stdout
    purged = _aqueue(
        dsn, "purge", "--older-than", "0s", "--status", "cancelled", "--batch-size", "1"
    )
    assert "deleted 2" in purged.stdout
    assert asyncio.run(_status(dsn, ids["waiting"])) is None
    assert asyncio.run(_status(dsn, ids["done"])) == JobStatus.SUCCEEDED
    refused = _aqueue(dsn, "purge", "--older-than", "0s", "--status", "queued")
    assert refused.returncode == 1 and "only deletes finished jobs" in refused.stderr


def test_admin_errors_are_one_line() -> None:
    result = _aqueue("postgresql://u:hunter2@127.0.0.1:1/x", "status")
    assert result.returncode == 1 and "hunter2" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_jobs_lists_a_row_it_cannot_decode(database: TestDatabase) -> None:
    """A row written around aqueue must not crash `aqueue jobs`."""
    from tests.raw import set_column

    async def prepare() -> str:
        queue = aqueue.Queue(database.dsn)
        async with queue:
            job = await queue.enqueue("cli.odd", 1)
            await set_column(queue, job.id, "args", '{"not": "a list"}')
            await set_column(queue, job.id, "result", '"fine"')
            if queue.dialect != "postgresql":  # json columns there refuse non-JSON
                await set_column(queue, job.id, "result", "{broken")
            return job.id

    job_id = asyncio.run(prepare())
    listed = _aqueue(database.dsn, "jobs")
    assert listed.returncode == 0, listed.stderr
    assert job_id in listed.stdout
    as_json = _aqueue(database.dsn, "jobs", "--json")
    assert as_json.returncode == 0, as_json.stderr
    [row] = [r for r in json.loads(as_json.stdout) if r["id"] == job_id]
    if database.backend != "postgresql":
        assert "result" in row["decode_error"]


def test_pause_resume_and_queues(database: TestDatabase) -> None:
    paused = _aqueue(database.dsn, "pause", "emails", "reports")
    assert paused.returncode == 0 and "emails: paused" in paused.stdout
    listed = json.loads(_aqueue(database.dsn, "queues", "--json").stdout)
    assert listed["emails"]["paused"] and listed["reports"]["paused"]
    resumed = _aqueue(database.dsn, "resume", "emails")
    assert resumed.returncode == 0 and "emails: resumed" in resumed.stdout
    listed = json.loads(_aqueue(database.dsn, "queues", "--json").stdout)
    assert not listed["emails"]["paused"] and listed["reports"]["paused"]
    assert "reports" in _aqueue(database.dsn, "queues").stdout
    bad = _aqueue(database.dsn, "pause", "a\x01b")
    assert bad.returncode == 1 and "control characters" in bad.stderr
    _aqueue(database.dsn, "resume", "reports")


HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\u202eevil\x9b"


async def _hostile_rows(dsn: str) -> None:
    """A failed job and a worker whose stored text holds terminal escapes
    (rows anyone who can enqueue, or write rows, chooses)."""
    from aqueue.records import WorkerRegistration

    queue = aqueue.Queue(dsn)
    async with queue:

        @queue.task(name="cli.hostile", max_attempts=1)
        async def hostile() -> None:
            raise type(f"Err{HOSTILE}", (Exception,), {})(f"message {HOSTILE}\nforged line")

        await hostile.enqueue()
        await queue.process(1)
        await registry(queue).register_worker(
            WorkerRegistration(
                name=f"w{HOSTILE}",
                host=f"h{HOSTILE}",
                pid=1,
                queues=[f"q{HOSTILE}"],
                concurrency=1,
                version="0",
            ),
            60,
        )


def test_stored_text_never_reaches_the_terminal_raw(database: TestDatabase) -> None:
    """Regression: `aqueue jobs` printed control characters from stored error
    types (a title change, a screen clear, colours)."""
    asyncio.run(_hostile_rows(database.dsn))
    for command in (
        ("jobs",),
        ("workers",),
        ("jobs", "--json"),
        ("workers", "--json"),
        ("status",),
        ("export",),
    ):
        done = _aqueue(database.dsn, *command)
        assert done.returncode == 0, done.stderr
        for raw in ("\x1b", "\x07", "\u202e", "\x9b"):
            assert raw not in done.stdout, (command, done.stdout)
    assert "\\x1b]0;pwned" in _aqueue(database.dsn, "jobs").stdout


async def _talk(dsn: str) -> dict[str, str]:
    queue = aqueue.Queue(dsn)
    async with queue:

        @queue.task(name="cli.talks", capture_output=True, max_attempts=2, takes_context=True)
        def talks(ctx: aqueue.JobContext) -> None:
            print(f"attempt {ctx.attempt} says \x1b[2J hello")
            if ctx.attempt == 1:
                raise aqueue.Retry(0.0)

        @queue.task(name="cli.quiet")
        def quiet() -> None:
            print("not kept")

        talked, silent = await talks.enqueue(), await quiet.enqueue()
        await queue.drain()
        return {"talked": talked.id, "silent": silent.id}


def test_logs_shows_each_attempts_output_escaped(database: TestDatabase) -> None:
    dsn = database.dsn
    ids = asyncio.run(_talk(dsn))
    shown = _aqueue(dsn, "logs", ids["talked"])
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert [line.split(" (")[0] for line in lines[::2]] == ["--- attempt 1", "--- attempt 2"]
    # What the task printed reaches the terminal with its escapes shown, not run.
    assert lines[1] == "attempt 1 says \\x1b[2J hello" and "\x1b" not in shown.stdout
    assert lines[3] == "attempt 2 says \\x1b[2J hello"
    one = _aqueue(dsn, "logs", ids["talked"], "--attempt", "2", "--json")
    [record] = [json.loads(line) for line in one.stdout.splitlines()]
    assert record["attempt"] == 2 and record["output"] == "attempt 2 says \x1b[2J hello\n"
    none = _aqueue(dsn, "logs", ids["silent"])
    assert none.returncode == 0 and "no output kept" in none.stderr
    missing = _aqueue(dsn, "logs", "0193a1b2-0000-7000-8000-000000000000")
    assert missing.returncode != 0 and "no such job" in missing.stderr


def test_jobs_lists_the_jobs_of_a_tag(database: TestDatabase) -> None:
    async def prepare() -> dict[str, str]:
        queue = aqueue.Queue(database.dsn)
        async with queue:
            tagged = await queue.task_named("cli.tagged").using(tags=["customer:42"]).enqueue(1)
            other = await queue.enqueue("cli.tagged", 2)
            return {"tagged": tagged.id, "other": other.id}

    ids = asyncio.run(prepare())
    listed = _aqueue(database.dsn, "jobs", "--tag", "customer:42", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row["id"] == ids["tagged"] and row["meta"] == {"tags": ["customer:42"]}
    assert ids["other"] not in _aqueue(database.dsn, "jobs", "--tag", "customer:42").stdout
    bad = _aqueue(database.dsn, "jobs", "--tag", "")
    assert bad.returncode != 0 and "tag" in bad.stderr and "Traceback" not in bad.stderr


def test_jobs_finds_jobs_by_argument_and_error_text(database: TestDatabase) -> None:
    async def prepare() -> dict[str, str]:
        queue = aqueue.Queue(database.dsn)
        async with queue:
            wanted = await queue.enqueue("cli.send", "north", user_id=42)
            await queue.enqueue("cli.send", "south", user_id=7)
            return {"wanted": wanted.id}

    ids = asyncio.run(prepare())
    for search in (["--arg", "user_id=42"], ["--arg", "0=north", "--arg", "user_id=42"]):
        listed = _aqueue(database.dsn, "jobs", *search, "--json")
        assert listed.returncode == 0, listed.stderr
        assert [r["id"] for r in json.loads(listed.stdout)] == [ids["wanted"]]
    none = _aqueue(database.dsn, "jobs", "--error", "anything", "--json")
    assert none.returncode == 0 and json.loads(none.stdout) == []
    bad = _aqueue(database.dsn, "jobs", "--arg", "user_id")
    assert bad.returncode != 0 and "name=value" in bad.stderr and "Traceback" not in bad.stderr
