"""Prometheus metrics (``pip install 'aqueue[metrics]'``).

Three parts, one implementation each:

- :class:`WorkerMetrics`: what one worker does (jobs started and finished by
  task, queue and outcome, durations, enqueue-to-start latency, claims,
  outcome writes, leases, event-loop lag). ``aqueue-worker --metrics-port``
  serves them; it is a :class:`~aqueue.observer.WorkerObserver`.
- :class:`DepthSampler` + :class:`DepthCollector`: queue depths read from the
  database (due, scheduled, running, failed; oldest due job's age; paused),
  through ``queue.jobs.counts()``, as the dashboard's overview. Among workers,
  the one that leads the ``metrics`` duty reads them (:mod:`aqueue.leader`);
  ``aqueue metrics`` and the dashboard's ``/metrics`` read them on their own.
- :func:`serve`: the HTTP endpoint, prometheus-client's own server.

Label values are bounded: tasks the worker does not know are ``unknown``,
and past :data:`MAX_QUEUES` distinct queues the rest are ``other``, so a
stream of odd job rows cannot grow the series without end. No job id is
ever a label.
"""

from __future__ import annotations

import logging
import math
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from aqueue.backends.base import Schedules
from aqueue.leader import Leadership, LedService
from aqueue.records import ClaimedJob, QueueCounts

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from aqueue.queue import Queue
    from aqueue.worker import Worker

log = logging.getLogger("aqueue.metrics")

#: Distinct queue names given their own label value; later ones are ``other``.
MAX_QUEUES = 100
#: The duty (aqueue/leader.py) whose holder samples queue depths among workers.
DUTY = "metrics"

SECONDS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
)
FAST_SECONDS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
SIZES = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500)


def registry_with_process() -> CollectorRegistry:
    """A fresh registry with the process and platform collectors (RSS, CPU, GC)."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


class _Labels:
    """Bounded label values for task and queue names read from job rows."""

    def __init__(self) -> None:
        self.tasks: frozenset[str] | None = None  # None: any task name is allowed
        self._queues: set[str] = set()

    def task(self, name: str) -> str:
        return name if self.tasks is None or name in self.tasks else "unknown"

    def queue(self, name: str) -> str:
        if name in self._queues:
            return name
        if len(self._queues) < MAX_QUEUES:
            self._queues.add(name)
            return name
        return "other"


class _Buckets:
    """A histogram kept as plain numbers on the event loop, exported on scrape.

    prometheus-client's own histogram takes a lock and walks its buckets on
    each observation; per job, at thousands of jobs a second, that was a
    fifth of a worker's throughput. Here an observation is one bisect.
    """

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one: above every bound
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def add(self, other: _Buckets) -> None:
        for i, n in enumerate(other.counts):
            self.counts[i] += n
        self.total += other.total

    def cumulative(self) -> list[tuple[str, float]]:
        running, out = 0, []
        for bound, n in zip([*self.bounds, math.inf], list(self.counts), strict=True):
            running += n
            out.append(("+Inf" if bound == math.inf else repr(float(bound)), float(running)))
        return out


class _TaskStats:
    """What one worker counted for one (task, queue) pair."""

    __slots__ = ("duration", "finished", "latency", "queue", "started", "task")

    def __init__(self, task: str, queue: str) -> None:
        self.task, self.queue = task, queue
        self.started = 0
        self.finished: dict[str, int] = {}
        self.duration = _Buckets(SECONDS)
        self.latency = _Buckets(SECONDS)


class WorkerMetrics(Collector):
    """One worker's metrics, in ``registry`` (a fresh one by default)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else registry_with_process()
        r = self.registry
        self._labels = _Labels()
        self._stats: dict[tuple[str, str], _TaskStats] = {}
        r.register(self)
        self.claim_size = Histogram(
            "aqueue_claim_size", "Jobs returned by one claim", buckets=SIZES, registry=r
        )
        self.claim_seconds = Histogram(
            "aqueue_claim_seconds", "Time one claim took", buckets=FAST_SECONDS, registry=r
        )
        self.write_seconds = Histogram(
            "aqueue_outcome_write_seconds",
            "Time one write of a batch of outcomes took",
            buckets=FAST_SECONDS,
            registry=r,
        )
        self.renewals = Counter("aqueue_lease_renewals", "Lease renewals sent", registry=r)
        self.leases_lost = Counter(
            "aqueue_leases_lost",
            "Attempts this worker lost (rescued elsewhere after a stall)",
            registry=r,
        )
        self.rescued = Counter(
            "aqueue_jobs_rescued",
            "Jobs this worker's rescuer put back (dead workers' jobs)",
            registry=r,
        )
        self.handed_back = Counter(
            "aqueue_jobs_handed_back", "Jobs handed back unfinished at shutdown", registry=r
        )
        self.loop_lag = Histogram(
            "aqueue_event_loop_lag_seconds",
            "How late the event loop woke for a 0.25 s sleep (blocking calls show here)",
            buckets=FAST_SECONDS,
            registry=r,
        )
        self._events = {
            "renewed": self.renewals,
            "lease_lost": self.leases_lost,
            "rescued": self.rescued,
            "handed_back": self.handed_back,
        }

    def attach(self, worker: Worker) -> None:
        """Report ``worker``'s state too (running jobs, backlog, loop lag), and
        take its task names as the only task label values."""
        self._labels.tasks = frozenset(worker.queue.tasks)
        r = self.registry
        Gauge("aqueue_jobs_running", "Attempts running now", registry=r).set_function(
            lambda: worker.running_count
        )
        Gauge(
            "aqueue_jobs_held_ahead", "Jobs claimed ahead of a free slot", registry=r
        ).set_function(lambda: worker.held_ahead)
        Gauge(
            "aqueue_outcome_backlog",
            "Finished attempts whose outcome is not written yet",
            registry=r,
        ).set_function(lambda: worker.outcome_backlog)
        worker.observe(self)
        worker.loop_monitor.on_lag = self.loop_lag.observe

    # -- WorkerObserver (per job: plain numbers, see _Buckets) ---------------------------

    def _of(self, job: ClaimedJob) -> _TaskStats:
        key = (job.task, job.queue)
        stats = self._stats.get(key)
        if stats is None:
            stats = self._stats[key] = _TaskStats(
                self._labels.task(job.task), self._labels.queue(job.queue)
            )
        return stats

    def job_started(self, job: ClaimedJob) -> None:
        stats = self._of(job)
        stats.started += 1
        due = job.due_timestamp()
        if due is not None:
            stats.latency.observe(max(0.0, time.time() - due))

    def job_finished(self, job: ClaimedJob, outcome: str, duration: float) -> None:
        stats = self._of(job)
        stats.duration.observe(duration)
        stats.finished[outcome] = stats.finished.get(outcome, 0) + 1

    def claimed(self, count: int, seconds: float) -> None:
        self.claim_size.observe(count)
        self.claim_seconds.observe(seconds)

    def outcomes_written(self, count: int, seconds: float) -> None:
        self.write_seconds.observe(seconds)

    def event(self, name: str, amount: int) -> None:
        counter = self._events.get(name)
        if counter is not None and amount:
            counter.inc(amount)

    # -- Collector: the per-job numbers, when Prometheus scrapes ---------------------

    def collect(self) -> Iterator[Metric]:
        started = CounterMetricFamily(
            "aqueue_jobs_started", "Job attempts started", labels=["task", "queue"]
        )
        finished = CounterMetricFamily(
            "aqueue_jobs_finished",
            "Job attempts finished, by outcome: succeeded, failed "
            "(for good), retried (failed, will run again), snoozed or cancelled",
            labels=["task", "queue", "outcome"],
        )
        by_pair: dict[tuple[str, str], list[_TaskStats]] = {}
        durations: dict[str, _Buckets] = {}
        latencies: dict[str, _Buckets] = {}
        for stats in list(self._stats.values()):  # a copy: the loop adds pairs meanwhile
            by_pair.setdefault((stats.task, stats.queue), []).append(stats)
            durations.setdefault(stats.task, _Buckets(SECONDS)).add(stats.duration)
            latencies.setdefault(stats.task, _Buckets(SECONDS)).add(stats.latency)
        for (task, queue), group in sorted(by_pair.items()):
            started.add_metric([task, queue], float(sum(s.started for s in group)))
            outcomes: dict[str, int] = {}
            for s in group:
                for outcome, n in list(s.finished.items()):
                    outcomes[outcome] = outcomes.get(outcome, 0) + n
            for outcome, n in sorted(outcomes.items()):
                finished.add_metric([task, queue, outcome], float(n))
        yield started
        yield finished
        for name, doc, table in (
            ("aqueue_job_duration_seconds", "How long attempts ran", durations),
            (
                "aqueue_job_start_latency_seconds",
                "From when a job was due (enqueued, or its delay ran out) to its start",
                latencies,
            ),
        ):
            family = HistogramMetricFamily(name, doc, labels=["task"])
            for task, buckets in sorted(table.items()):
                family.add_metric([task], buckets.cumulative(), buckets.total)
            yield family


# -- queue depths --------------------------------------------------------------------


def depth_families(summaries: Iterable[QueueCounts]) -> list[Metric]:
    """The queue-depth gauges of an overview (one implementation for the worker,
    ``aqueue metrics`` and the dashboard)."""
    jobs = GaugeMetricFamily(
        "aqueue_queue_jobs",
        "Jobs in the database by queue and state: due (waiting to "
        "start), scheduled (not due yet), running, failed",
        labels=["queue", "state"],
    )
    oldest = GaugeMetricFamily(
        "aqueue_queue_oldest_due_age_seconds",
        "How long the oldest due job has been waiting (0: none)",
        labels=["queue"],
    )
    paused = GaugeMetricFamily(
        "aqueue_queue_paused", "1 while the queue is paused", labels=["queue"]
    )
    for s in _bounded(summaries):
        for state in ("due", "scheduled", "running", "failed"):
            jobs.add_metric([s.name, state], getattr(s, state))
        oldest.add_metric([s.name], s.oldest_due_age or 0.0)
        paused.add_metric([s.name], 1.0 if s.paused else 0.0)
    return [jobs, oldest, paused]


def _bounded(summaries: Iterable[QueueCounts]) -> list[QueueCounts]:
    """At most MAX_QUEUES queues; the rest summed into one called ``other``."""
    ordered = sorted(summaries, key=lambda s: s.name)
    if len(ordered) <= MAX_QUEUES:
        return ordered
    kept, rest = ordered[:MAX_QUEUES], ordered[MAX_QUEUES:]
    ages = [s.oldest_due_age for s in rest if s.oldest_due_age is not None]
    other = QueueCounts(
        name="other",
        paused=False,
        due=sum(s.due for s in rest),
        scheduled=sum(s.scheduled for s in rest),
        running=sum(s.running for s in rest),
        failed=sum(s.failed for s in rest),
        oldest_due_age=max(ages) if ages else None,
        finished_5m={},
        finished_60m={},
    )
    return [*kept, other]


class DepthSampler(LedService):
    """Reads queue depths every ``interval`` seconds.

    With ``leadership`` (workers), only the worker that leads the ``metrics``
    duty (:mod:`aqueue.leader`) reads and exports them; the others export no
    depth gauges, so summing across workers counts each job once; while the
    lead passes, two may briefly export: query with ``max by (queue, state)``.
    ``aqueue metrics`` and the dashboard's ``/metrics`` read them on their own.
    """

    duty = "read queue depths"

    def __init__(
        self,
        read: Callable[[], Awaitable[list[QueueCounts]]],
        interval: float = 15.0,
        *,
        leadership: Leadership | None = None,
    ) -> None:
        super().__init__(interval, first_after=0.0)
        self._read = read
        self.leadership = leadership
        #: The last read, or None while this process does not export depths.
        self.snapshot: list[QueueCounts] | None = None

    @classmethod
    def of(cls, queue: Queue, interval: float = 15.0, *, worker: str | None = None) -> DepthSampler:
        """The depths of ``queue``'s database: read by this process alone, or
        — given the ``worker``'s name — by the worker that leads the duty."""
        leadership = None
        if worker is not None and isinstance(queue.backend, Schedules):
            leadership = Leadership(queue.backend, DUTY, worker, 3 * interval)
        return cls(queue.jobs.counts, interval, leadership=leadership)

    async def sample(self) -> bool:
        """Read the depths if it is this process's turn; whether it was."""
        if self.leadership is not None and not await self.leadership.held():
            self.snapshot = None
            return False
        self.snapshot = await self._read()
        return True

    async def step(self) -> None:
        try:
            await self.sample()
        except Exception:
            self.snapshot = None  # stale depths would look current
            raise


class DepthCollector(Collector):
    """Exports a :class:`DepthSampler`'s last snapshot when Prometheus scrapes."""

    def __init__(self, sampler: DepthSampler) -> None:
        self._sampler = sampler

    def collect(self) -> Iterator[Metric]:
        snapshot = self._sampler.snapshot
        if snapshot is not None:
            yield from depth_families(snapshot)


def serve(registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> WSGIServer:
    """Serve ``registry`` at ``http://host:port/metrics`` from a daemon thread;
    ``shutdown()`` the returned server to stop."""
    server, _thread = start_http_server(port, host, registry)
    return server


def instrument_worker(
    worker: Worker, port: int, host: str = "127.0.0.1", depth_interval: float = 15.0
) -> WSGIServer:
    """Give ``worker`` metrics and a depth sampler, and serve them (the
    ``--metrics-port`` of ``aqueue-worker``). Raises ``OSError`` if the port is taken."""
    metrics = WorkerMetrics()
    metrics.attach(worker)
    sampler = DepthSampler.of(worker.queue, depth_interval, worker=worker.name)
    metrics.registry.register(DepthCollector(sampler))
    worker.services.append(sampler)
    return serve(metrics.registry, port, host)
