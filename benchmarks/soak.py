"""The chaos soak: three workers drain a steady stream while faults are injected.

    python -m benchmarks.soak --backend postgresql --seconds 600
    python -m benchmarks.soak --backend sqlite --seconds 30      # a smoke (CI)

Three ``aqueue-worker`` processes (each through its own TCP fault proxy on
the server backends) drain jobs enqueued at a steady rate. At random
intervals the harness injects one fault: SIGKILL a worker (and start a new
one), SIGSTOP a worker past its lease then SIGCONT it, cut a worker's proxy
(reset or black hole), restart PostgreSQL (as root with pg_ctlcluster),
enqueue poison payloads, cancel jobs. Afterwards it drains, then checks the
ledger every attempt wrote, and prints:

- jobs enqueued, faults injected (by kind);
- lost: acknowledged jobs missing from the table (must be 0);
- stuck: jobs not in a final state after the drain (must be 0);
- duplicate runs explained by a fault (a fault hit the worker of an earlier
  attempt, or the database, while it ran) and unexplained ones (must be 0);
- cancel violations: an attempt started after its cancel was acknowledged (0);
- max recovery: the longest a fault-hit job took from its first start to
  its final state.

It exits 1 when a must-be-zero count is not. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import aqueue
from aqueue.dsn import parse
from benchmarks.run import fresh
from benchmarks.soak_app import poison, work
from tests.faults.proxy import FaultProxy

ROOT = Path(__file__).resolve().parents[1]
WORKER = str(Path(sys.executable).with_name("aqueue-worker"))
LEASE = 3.0
FINAL = {"succeeded", "failed", "cancelled"}
POISONS = ["nul_result", "surrogate_result", "surrogate_error", "infinite_retry"]


@dataclass
class Fault:
    kind: str
    at: float
    until: float
    pids: set[int] = field(default_factory=set)  # empty: every worker (the database)


@dataclass
class Slot:
    """One worker seat: its proxy (server backends) and its current process."""

    index: int
    proxy: FaultProxy | None
    proc: subprocess.Popen[bytes] | None = None
    log: Any = None


class Soak:
    def __init__(
        self, backend: str, seconds: float, rate: float, seed: int, fault_every: tuple[float, float]
    ) -> None:
        self.backend = backend
        self.seconds = seconds
        self.rate = rate
        self.random = random.Random(seed)
        self.fault_every = fault_every
        self.scratch = Path(tempfile.mkdtemp(prefix="aqueue-soak-"))
        self.ledger = self.scratch / "ledger.txt"
        self.faults: list[Fault] = []
        self.sent: dict[int, str] = {}  # job number -> id
        self.poisons: set[str] = set()
        self.cancels: dict[str, tuple[float, str]] = {}  # id -> (time acknowledged, status)
        self.slots: list[Slot] = []
        self.dsn = ""
        self.stopping = False

    # -- workers --------------------------------------------------------------------

    def _worker_dsn(self, slot: Slot) -> str:
        if slot.proxy is None:
            return self.dsn
        p = parse(self.dsn)
        user = f"{p.user}@" if p.user else ""
        return f"{p.scheme}://{user}127.0.0.1:{slot.proxy.port}/{p.database}"

    def start_worker(self, slot: Slot) -> None:
        env = {**os.environ, "AQUEUE_SOAK_LEDGER": str(self.ledger)}
        slot.log = open(self.scratch / f"worker-{slot.index}-{time.time():.0f}.log", "ab")
        slot.proc = subprocess.Popen(
            [
                WORKER,
                "benchmarks.soak_app:queue",
                "--dsn",
                self._worker_dsn(slot),
                "--concurrency",
                "20",
                "--lease",
                str(LEASE),
                "--poll-interval",
                "0.2",
                "--shutdown-timeout",
                "10",
                "--log-level",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
            stdout=slot.log,
            stderr=subprocess.STDOUT,
        )

    def pids(self) -> set[int]:
        return {s.proc.pid for s in self.slots if s.proc is not None}

    # -- the stream -------------------------------------------------------------------

    async def produce(self, queue: aqueue.Queue) -> None:
        n = 0
        tick = 0.1
        began = time.monotonic()
        while not self.stopping:
            due = int((time.monotonic() - began) * self.rate)
            batch = list(range(n, due))
            n = due
            if batch:
                requests = [
                    work.using(unique_key=f"soak-{k}").prepare(k, self.random.random() * 0.05)
                    for k in batch
                ]
                while True:
                    try:
                        jobs = await queue.enqueue_many(requests)
                        break
                    except aqueue.DatabaseUnavailable:
                        await asyncio.sleep(0.2)  # the same unique keys: never twice
                for k, job in zip(batch, jobs, strict=True):
                    self.sent[k] = job.id
            await asyncio.sleep(tick)

    # -- faults -----------------------------------------------------------------------

    async def inject(self, queue: aqueue.Queue) -> None:
        kinds = ["sigkill", "sigstop", "poison", "cancel"]
        if self.backend != "sqlite":
            kinds += ["cut_reset", "cut_blackhole"]
        if self.backend == "postgresql" and _pg_cluster() is not None and os.geteuid() == 0:
            kinds.append("pg_restart")
        while not self.stopping:
            await asyncio.sleep(self.random.uniform(*self.fault_every))
            if self.stopping:
                return
            kind = self.random.choice(kinds)
            slot = self.random.choice(self.slots)
            began = time.time()
            pid = slot.proc.pid if slot.proc is not None else -1
            if kind == "sigkill" and slot.proc is not None:
                slot.proc.kill()
                slot.proc.wait()
                self.start_worker(slot)
                self.faults.append(Fault(kind, began, time.time(), {pid}))
            elif kind == "sigstop" and slot.proc is not None:
                slot.proc.send_signal(signal.SIGSTOP)
                await asyncio.sleep(LEASE + 1.5)
                slot.proc.send_signal(signal.SIGCONT)
                self.faults.append(Fault(kind, began, time.time(), {pid}))
            elif kind.startswith("cut_") and slot.proxy is not None:
                await asyncio.to_thread(slot.proxy.cut, kind.removeprefix("cut_"))
                await asyncio.sleep(self.random.uniform(1.0, LEASE + 1.0))
                await asyncio.to_thread(slot.proxy.restore)
                self.faults.append(Fault(kind, began, time.time(), {pid}))
            elif kind == "pg_restart":
                cluster = _pg_cluster()
                assert cluster is not None
                await asyncio.to_thread(
                    subprocess.run,
                    [
                        "pg_ctlcluster",
                        "--skip-systemctl-redirect",
                        *cluster,
                        "restart",
                        "-m",
                        "fast",
                    ],
                    check=True,
                    timeout=120,
                )
                self.faults.append(Fault(kind, began, time.time()))
            elif kind == "poison":
                try:
                    jobs = await queue.enqueue_many([poison.prepare(p) for p in POISONS])
                    self.poisons.update(j.id for j in jobs)
                except aqueue.DatabaseUnavailable:
                    continue
                self.faults.append(Fault(kind, began, time.time(), set()))
            elif kind == "cancel":
                try:
                    await self._cancel_some(queue)
                except aqueue.DatabaseUnavailable:
                    continue
                self.faults.append(Fault(kind, began, time.time(), set()))

    async def _cancel_some(self, queue: aqueue.Queue) -> None:
        """Enqueue a few long jobs and cancel them while queued or running."""
        jobs = await queue.enqueue_many([work.prepare(-1, 2.0) for _ in range(5)])
        for job in jobs:
            self.sent[-len(self.sent) - 1] = job.id
        await asyncio.sleep(self.random.uniform(0.0, 0.5))
        for job in jobs:
            status = await queue.jobs.cancel(job.id)
            if status in ("cancelled", "running"):
                self.cancels[job.id] = (time.time(), str(status))

    # -- the run ------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        self.dsn = await fresh(self.backend, self.scratch)
        for index in range(3):
            proxy = None
            if self.backend != "sqlite":
                p = parse(self.dsn)
                proxy = FaultProxy(
                    p.host or "127.0.0.1",
                    p.port or (5432 if self.backend == "postgresql" else 3306),
                )
                proxy.start()
            self.slots.append(Slot(index, proxy))
        for slot in self.slots:
            self.start_worker(slot)
        queue = aqueue.Queue(self.dsn)
        began = time.time()
        async with queue:
            producing = asyncio.create_task(self.produce(queue))
            injecting = asyncio.create_task(self.inject(queue))
            await asyncio.sleep(self.seconds)
            self.stopping = True
            await producing
            await injecting
            for slot in self.slots:  # faults end: every proxy lets traffic through
                if slot.proxy is not None:
                    slot.proxy.restore()
            drained = await self._drain(queue, timeout=max(60.0, LEASE * 20))
            rows = {j.id: j for j in await _all_jobs(queue)}
        for slot in self.slots:
            if slot.proc is not None:
                slot.proc.send_signal(signal.SIGTERM)
        for slot in self.slots:
            if slot.proc is not None:
                slot.proc.wait(30)
            if slot.proxy is not None:
                slot.proxy.stop()
        report = self.check(rows, time.time() - began, drained)
        shutil.rmtree(self.scratch, ignore_errors=True)
        return report

    async def _drain(self, queue: aqueue.Queue, timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            counts = await queue.jobs.counts(totals=True)
            if not any(c.queued or c.running for c in counts):
                break
            await asyncio.sleep(0.5)
        return time.monotonic() - started

    # -- the ledger -----------------------------------------------------------------------

    def check(
        self, rows: dict[str, aqueue.JobInfo], elapsed: float, drained: float
    ) -> dict[str, Any]:
        starts: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
        ends: dict[str, float] = {}
        for line in self.ledger.read_text().splitlines() if self.ledger.exists() else []:
            kind, job_id, attempt, pid, at = line.split()
            if kind == "start":
                starts[job_id].append((int(attempt), int(pid), float(at)))
            else:
                ends[job_id] = max(ends.get(job_id, 0.0), float(at))
        acknowledged = set(self.sent.values()) | self.poisons
        lost = sorted(acknowledged - set(rows))
        stuck = sorted(j for j in acknowledged & set(rows) if rows[j].status not in FINAL)
        explained = unexplained = 0
        odd: list[dict[str, Any]] = []
        recovery = 0.0
        for job_id, runs in starts.items():
            if job_id in self.poisons:
                continue  # they fail on purpose: their retries are not duplicates
            # In claim order: a worker stopped right after a claim may write its
            # start line after the rescuer's attempt began.
            runs.sort(key=lambda r: (r[0], r[2]))
            for (_a, pid, at), (_b, _pid2, next_at) in pairwise(runs):
                if self._fault_near(pid, at, next_at):
                    explained += 1
                else:
                    unexplained += 1
                    odd.append({"id": job_id, "runs": runs})
            if len(runs) > 1:
                final = rows[job_id].finished_at if job_id in rows else None
                end = final.timestamp() if final is not None else ends.get(job_id, runs[-1][2])
                recovery = max(recovery, end - runs[0][2])
        violations = 0
        for job_id, (at, status) in self.cancels.items():
            later = [r for r in starts.get(job_id, []) if r[2] > at + 0.05]
            if status == "cancelled" and later:
                violations += 1
            elif status == "running" and len({r[0] for r in later}) > 0:
                violations += 1
        kinds: dict[str, int] = defaultdict(int)
        for fault in self.faults:
            kinds[fault.kind] += 1
        final_counts: dict[str, int] = defaultdict(int)
        for job in rows.values():
            final_counts[job.status.value] += 1
        return {
            "backend": self.backend,
            "seconds": round(elapsed, 1),
            "rate": self.rate,
            "enqueued": len(acknowledged),
            "faults": dict(kinds),
            "faults_total": len(self.faults),
            "statuses": dict(final_counts),
            "lost": len(lost),
            "stuck": len(stuck),
            "duplicates_explained": explained,
            "duplicates_unexplained": unexplained,
            "cancel_violations": violations,
            "max_recovery_s": round(recovery, 2),
            "drain_after_stream_s": round(drained, 1),
            "examples": {
                "lost": lost[:5],
                "stuck": stuck[:5],
                "unexplained": odd[:5],
                "faults": [vars(f) | {"pids": sorted(f.pids)} for f in self.faults] if odd else [],
            },
        }

    def _fault_near(self, pid: int, started: float, rerun: float) -> bool:
        """Did a fault hit ``pid`` (or everyone) while its attempt ran?"""
        for fault in self.faults:
            if fault.kind in ("poison", "cancel"):
                continue
            hits = not fault.pids or pid in fault.pids
            if hits and fault.at <= rerun + 1.0 and fault.until >= started - 1.0:
                return True
        return False


async def _all_jobs(queue: aqueue.Queue) -> list[aqueue.JobInfo]:
    from aqueue.records import JobFilter

    return await queue.jobs.list(JobFilter(limit=10_000_000))


def _pg_cluster() -> tuple[str, str] | None:
    if not shutil.which("pg_ctlcluster") or not Path("/etc/postgresql").is_dir():
        return None
    versions = sorted(os.listdir("/etc/postgresql"))
    return (versions[-1], "main") if versions else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backend", choices=["postgresql", "mysql", "sqlite"], default="postgresql"
    )
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--rate", type=float, default=200.0, help="jobs enqueued per second")
    parser.add_argument(
        "--fault-every",
        type=float,
        nargs=2,
        default=(8.0, 16.0),
        metavar=("MIN", "MAX"),
        help="seconds between faults",
    )
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--output", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    soak = Soak(args.backend, args.seconds, args.rate, args.seed, tuple(args.fault_every))
    report = asyncio.run(soak.run())
    report["seed"] = args.seed
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text)
    bad = (
        report["lost"]
        or report["stuck"]
        or report["duplicates_unexplained"]
        or report["cancel_violations"]
    )
    print(
        "OK: nothing lost, nothing stuck, no unexplained duplicate"
        if not bad
        else "FAILED: see the counts above"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
