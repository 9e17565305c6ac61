"""Outages between one worker and its database, made with a TCP proxy (no server
restart): during claims, runs, outcome writes, renewals and shutdown. Then
count: nothing lost, nothing stuck (SPEC §5.1, §5.4, §5.10)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aqueue import JobStatus
from aqueue.dsn import parse
from tests.acceptance.helpers import (
    WorkerProcess,
    enqueue_records,
    records,
    run,
    statuses,
    wait_until,
)
from tests.counting import totals
from tests.databases import TestDatabase
from tests.faults.proxy import FaultProxy
from tests.raw import raw

SERVERS = pytest.mark.parametrize("database", ["postgresql", "mysql"], indirect=True)


@pytest.fixture
def proxy(db: TestDatabase) -> Iterator[FaultProxy]:
    parsed = parse(db.dsn)
    default_port = 5432 if parsed.dialect == "postgresql" else 3306
    with FaultProxy(parsed.host or "127.0.0.1", parsed.port or default_port) as p:
        yield p


def _through(dsn: str, proxy: FaultProxy) -> str:
    parsed = parse(dsn)
    user = f"{parsed.user}@" if parsed.user else ""
    return f"{parsed.scheme}://{user}127.0.0.1:{proxy.port}/{parsed.database}"


def _counts(dsn: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for job in run(statuses(dsn)).values():
        found[job.status.value] = found.get(job.status.value, 0) + 1
    return found


@SERVERS
def test_outages_mid_run_lose_nothing(
    db: TestDatabase, proxy: FaultProxy, record_file: Path
) -> None:
    ids = run(enqueue_records(db.dsn, 200, sleep=0.1))
    worker = WorkerProcess(
        _through(db.dsn, proxy),
        record_file,
        "--concurrency",
        "10",
        "--lease",
        "3",
        "--poll-interval",
        "0.2",
    )
    try:
        for mode in ("reset", "blackhole", "reset", "blackhole"):
            seen = len(records(record_file))
            wait_until(
                lambda s=seen: len(records(record_file)) > s + 10,  # type: ignore[misc]
                60,
                "jobs to run between outages",
            )
            proxy.cut(mode)
            time.sleep(1.5)
            proxy.restore()
        wait_until(lambda: _counts(db.dsn) == {"succeeded": len(ids)}, 120, "every job to succeed")
    finally:
        assert worker.stop() == 0, worker.output()
    done = {j for kind, j, _ in records(record_file) if kind == "done"}
    assert done == set(ids)
    assert "cannot" in worker.output()  # it saw the outages


@SERVERS
def test_shutdown_during_an_outage_is_bounded(
    db: TestDatabase, proxy: FaultProxy, record_file: Path
) -> None:
    """SIGTERM while the database is unreachable: the worker exits within its
    shutdown timeout; what it could not write is recovered through leases."""
    ids = run(enqueue_records(db.dsn, 6, sleep=4))
    worker = WorkerProcess(
        _through(db.dsn, proxy),
        record_file,
        "--concurrency",
        "3",
        "--lease",
        "2",
        "--poll-interval",
        "0.2",
        "--shutdown-timeout",
        "2",
    )
    wait_until(
        lambda: sum(k == "start" for k, _, _ in records(record_file)) >= 3, 30, "jobs to start"
    )
    proxy.cut("blackhole")
    began = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0, worker.output()
    took = time.monotonic() - began
    # 2 s of grace and a second for the hand-back; the connections are
    # dropped in that time too.
    assert took < 3.5, (took, worker.output())
    proxy.restore()
    second = WorkerProcess(
        db.dsn, record_file, "--concurrency", "6", "--lease", "2", "--poll-interval", "0.2"
    )
    try:
        wait_until(
            lambda: _counts(db.dsn) == {"succeeded": len(ids)},
            60,
            "every job to succeed after the outage",
        )
    finally:
        assert second.stop() == 0


@SERVERS
def test_second_signal_during_an_outage_exits_at_once(
    db: TestDatabase, proxy: FaultProxy, record_file: Path
) -> None:
    run(enqueue_records(db.dsn, 3, sleep=30))
    worker = WorkerProcess(
        _through(db.dsn, proxy),
        record_file,
        "--concurrency",
        "3",
        "--lease",
        "5",
        "--shutdown-timeout",
        "60",
    )
    wait_until(
        lambda: sum(k == "start" for k, _, _ in records(record_file)) >= 3, 30, "jobs to start"
    )
    proxy.cut("blackhole")
    worker.signal(signal.SIGTERM)
    time.sleep(0.5)
    began = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0, worker.output()
    assert time.monotonic() - began < 1.5, worker.output()
    proxy.restore()
    jobs = run(statuses(db.dsn))
    # Not handed back (the database was away): running until their leases expire.
    assert all(j.status == JobStatus.RUNNING for j in jobs.values())


def _wait_idle(db: TestDatabase, worker: WorkerProcess, handover: bool) -> None:
    """Until the worker is idle: registered, and on PostgreSQL with hand-over
    standing an offer (the statements an idle worker keeps sending)."""

    async def ready() -> bool:
        import aqueue

        async with aqueue.Queue(db.dsn) as queue:
            workers = await queue.workers()
            if not workers:
                return False
            if handover:
                async with raw(db.dsn) as sql:
                    return bool(await sql.value("SELECT count(*) FROM aqueue_offers"))
            return True

    wait_until(lambda: run(ready()), 30, f"the worker to be idle:\n{worker.output()}")


OUTAGES = ["reset", "blackhole", "half-open"]


@pytest.mark.parametrize(
    ("database", "handover"),
    [("postgresql", True), ("postgresql", False), ("mysql", False)],
    indirect=["database"],
)
@pytest.mark.parametrize("outage", OUTAGES)
def test_an_idle_worker_stops_within_its_shutdown_timeout_in_any_outage(
    db: TestDatabase, proxy: FaultProxy, record_file: Path, handover: bool, outage: str
) -> None:
    """Regression: SIGTERM to an idle PostgreSQL worker (hand-over on) while the
    database was black-holed took 63.6 s with --shutdown-timeout 3 (the
    command timeout of a statement in flight), and a second SIGTERM did not help."""
    worker = WorkerProcess(
        _through(db.dsn, proxy),
        record_file,
        "--concurrency",
        "3",
        "--lease",
        "4",
        "--poll-interval",
        "0.1",
        "--shutdown-timeout",
        "1",
        *([] if handover else ["--no-handover"]),
    )
    _wait_idle(db, worker, handover)
    proxy.cut(outage)  # type: ignore[arg-type]
    time.sleep(0.6)  # its next claim, probe or offer is now in flight
    began = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0, worker.output()
    took = time.monotonic() - began
    # The shutdown timeout, and a moment to hand back what it held.
    assert took < 2.5, (took, worker.output())
    proxy.restore()


@pytest.mark.parametrize(
    ("database", "handover"), [("postgresql", True), ("mysql", False)], indirect=["database"]
)
@pytest.mark.parametrize("outage", ["blackhole", "half-open"])
def test_a_second_signal_exits_within_a_second_in_any_outage(
    db: TestDatabase, proxy: FaultProxy, record_file: Path, handover: bool, outage: str
) -> None:
    run(enqueue_records(db.dsn, 2, sleep=30))
    worker = WorkerProcess(
        _through(db.dsn, proxy),
        record_file,
        "--concurrency",
        "3",
        "--lease",
        "5",
        "--poll-interval",
        "0.1",
        "--shutdown-timeout",
        "60",
    )
    wait_until(
        lambda: sum(k == "start" for k, _, _ in records(record_file)) >= 2, 30, "jobs to start"
    )
    _wait_idle(db, worker, handover)
    proxy.cut(outage)  # type: ignore[arg-type]
    # Fixed waits on purpose: what is under test is a worker stuck in a
    # statement the dead server never answers, and nothing outside can see
    # that moment; 0.6 s puts its next read in flight, 0.3 s lets the first
    # SIGTERM start the (60 s) graceful stop.
    time.sleep(0.6)
    worker.signal(signal.SIGTERM)
    time.sleep(0.3)  # see above
    began = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0, worker.output()
    assert time.monotonic() - began < 1.5, worker.output()
    proxy.restore()


@SERVERS
def test_a_statement_never_waits_on_a_silent_server_past_its_timeout(
    db: TestDatabase, proxy: FaultProxy
) -> None:
    """aiomysql has no statement timeout of its own: a half-open connection
    held a call until TCP gave up (a quarter of an hour). Both servers now give
    up a statement after ?command_timeout= (60 s by default)."""
    import aqueue

    async def probe() -> float:
        queue = aqueue.Queue(_through(db.dsn, proxy) + "?command_timeout=1")
        async with queue:
            await totals(queue)  # a pooled connection, then the server goes silent
            proxy.cut("half-open")
            began = time.monotonic()
            with pytest.raises(aqueue.DatabaseUnavailable):
                await totals(queue)
            took = time.monotonic() - began
            proxy.restore()
            assert await totals(queue) == {}  # a fresh connection works
        return took

    assert run(probe()) < 3
