"""``aqueue-worker --metrics-port`` and ``aqueue metrics``: scrape real processes
after a known workload and check the counts."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import IN_CI

if not IN_CI:  # in CI a missing extra fails the run
    pytest.importorskip("prometheus_client", reason="needs aqueue[metrics]")
from prometheus_client.parser import text_string_to_metric_families

from tests.acceptance.helpers import (
    ADMIN,
    ROOT,
    WorkerProcess,
    admin,
    run,
    statuses,
    wait_until,
)
from tests.databases import TestDatabase

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


async def _workload(dsn: str, flag: Path) -> None:
    import aqueue
    from tests.apps.recording import flaky, record

    queue = aqueue.Queue(dsn)
    async with queue:
        await queue.enqueue_many([record.prepare(n) for n in range(10)])
        failing = flaky.using(max_attempts=2)
        await queue.enqueue_many([failing.prepare(str(flag), f"job {n}") for n in range(3)])
        later = record.using(queue="later", delay=3600)
        await queue.enqueue_many([later.prepare(n) for n in range(2)])


def _finished(dsn: str) -> bool:
    jobs = run(statuses(dsn)).values()
    return sum(j.status in ("succeeded", "failed") for j in jobs) == 13


def test_worker_metrics_count_a_known_workload(
    db: TestDatabase, record_file: Path, tmp_path: Path
) -> None:
    run(_workload(db.dsn, tmp_path / "missing-flag"))
    port = free_port()
    worker = WorkerProcess(
        db.dsn,
        record_file,
        "--metrics-port",
        str(port),
        "--metrics-interval",
        "0.5",
        "--concurrency",
        "4",
    )
    wait_until(lambda: _finished(db.dsn), 60, "the workload to finish")

    def depths_current() -> bool:
        samples = scrape(port)
        return value(samples, "aqueue_queue_jobs", queue="default", state="failed") == 3

    wait_until(depths_current, 20, "the depth gauges to show the failures")
    s = scrape(port)
    assert value(s, "aqueue_jobs_started_total", task="record", queue="default") == 10
    assert value(s, "aqueue_jobs_started_total", task="flaky", queue="default") == 6
    finished = "aqueue_jobs_finished_total"
    assert value(s, finished, task="record", queue="default", outcome="succeeded") == 10
    assert value(s, finished, task="flaky", queue="default", outcome="retried") == 3
    assert value(s, finished, task="flaky", queue="default", outcome="failed") == 3
    assert value(s, "aqueue_job_duration_seconds_count", task="record") == 10
    assert value(s, "aqueue_job_duration_seconds_count", task="flaky") == 6
    assert value(s, "aqueue_job_start_latency_seconds_count", task="record") == 10
    # A retry's latency counts from when it became due again, not from the enqueue.
    latency_sum = value(s, "aqueue_job_start_latency_seconds_sum", task="flaky")
    assert latency_sum is not None and 0 <= latency_sum < 6 * 5
    claims = value(s, "aqueue_claim_size_sum")
    assert claims == 16
    assert (value(s, "aqueue_claim_seconds_count") or 0) >= 1
    assert (value(s, "aqueue_outcome_write_seconds_count") or 0) >= 1
    assert value(s, "aqueue_jobs_running") == 0
    assert value(s, "aqueue_outcome_backlog") == 0
    assert (value(s, "aqueue_event_loop_lag_seconds_count") or 0) >= 1
    assert value(s, "aqueue_lease_renewals_total") is not None
    assert value(s, "aqueue_leases_lost_total") == 0
    assert value(s, "aqueue_queue_jobs", queue="later", state="scheduled") == 2
    assert value(s, "aqueue_queue_jobs", queue="default", state="due") == 0
    assert value(s, "aqueue_queue_oldest_due_age_seconds", queue="default") == 0
    assert (value(s, "process_resident_memory_bytes") or 0) > 0
    # Bounded labels: no job id anywhere in the exposition.
    assert not any(len(v) == 36 for _, labels in s for _, v in labels)
    assert worker.stop() == 0


def test_only_one_worker_exports_queue_depths(db: TestDatabase, record_file: Path) -> None:
    ports = [free_port(), free_port()]
    workers = [
        WorkerProcess(db.dsn, record_file, "--metrics-port", str(port), "--metrics-interval", "0.5")
        for port in ports
    ]

    def exporting() -> list[int] | None:
        """The ports whose scrape has depth gauges; None until both listen."""
        found = []
        for port in ports:
            try:
                samples = scrape(port)
            except OSError:
                return None
            if any(name == "aqueue_queue_paused" for name, _ in samples):
                found.append(port)
        return found

    run(_workload(db.dsn, Path("/nonexistent/flag")))
    wait_until(lambda: len(exporting() or []) == 1, 20, "one worker to export depths")
    for _ in range(5):  # and it stays one
        found = exporting()
        assert found is not None and len(found) == 1
        time.sleep(0.3)
    for worker in workers:
        assert worker.stop() == 0


@pytest.fixture
def exporter(db: TestDatabase, tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    log = open(tmp_path / "exporter.log", "wb")
    proc = subprocess.Popen(
        [ADMIN, "metrics", "--dsn", db.dsn, "--port", str(port), "--interval", "0.5"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield port, proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)
    log.close()


def test_standalone_exporter(
    db: TestDatabase, exporter: tuple[int, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    port, proc = exporter
    run(_workload(db.dsn, tmp_path / "missing-flag"))

    def counted() -> bool:
        try:
            samples = scrape(port)
        except OSError:
            return False
        return value(samples, "aqueue_queue_jobs", queue="default", state="due") == 13

    wait_until(counted, 20, "the exporter to count the queued jobs")
    samples = scrape(port)
    assert value(samples, "aqueue_queue_jobs", queue="later", state="scheduled") == 2
    age = value(samples, "aqueue_queue_oldest_due_age_seconds", queue="default")
    assert age is not None and 0 <= age < 60
    assert not any(name.startswith("aqueue_jobs_") for name, _ in samples)
    proc.terminate()
    assert proc.wait(10) == 0


def test_exporter_on_an_unreachable_database_fails_in_one_line() -> None:
    proc = admin(
        "metrics",
        "--dsn",
        "postgresql://nobody:s3cret@127.0.0.1:1/x",
        "--port",
        str(free_port()),
        timeout=60,
    )
    assert proc.returncode == 1
    assert "aqueue metrics: error:" in proc.stderr and "s3cret" not in proc.stderr
