"""The seam a worker reports what it does through, for metrics.

Every worker has one: the counter of :mod:`aqueue.flow` (the dashboard's
charts), and with ``Worker(observer=...)`` that one too (:class:`Observers`).
:class:`aqueue.metrics.WorkerMetrics` implements the hooks with
prometheus-client; any object with these methods will do.
"""

from __future__ import annotations

from typing import Protocol

from aqueue.records import ClaimedJob


class WorkerObserver(Protocol):
    """What a worker reports, as it happens (on the worker's event loop)."""

    def job_started(self, job: ClaimedJob) -> None:
        """An attempt of ``job`` started."""

    def job_finished(self, job: ClaimedJob, outcome: str, duration: float) -> None:
        """An attempt ended: ``outcome`` is ``succeeded``, ``failed``, ``retried``,
        ``snoozed`` (given back, see :class:`aqueue.Snooze`) or ``cancelled``;
        ``duration`` in seconds."""

    def claimed(self, count: int, seconds: float) -> None:
        """A claim returned ``count`` jobs after ``seconds``."""

    def outcomes_written(self, count: int, seconds: float) -> None:
        """One write of ``count`` outcomes took ``seconds``."""

    def event(self, name: str, amount: int) -> None:
        """A worker signal (``renewed``, ``lease_lost``, ``rescued``, ``handed_back``, …)."""


class Observers:
    """Several observers reported to as one (a worker has one observer)."""

    def __init__(self, *observers: WorkerObserver) -> None:
        self.observers = observers

    def job_started(self, job: ClaimedJob) -> None:
        for o in self.observers:
            o.job_started(job)

    def job_finished(self, job: ClaimedJob, outcome: str, duration: float) -> None:
        for o in self.observers:
            o.job_finished(job, outcome, duration)

    def claimed(self, count: int, seconds: float) -> None:
        for o in self.observers:
            o.claimed(count, seconds)

    def outcomes_written(self, count: int, seconds: float) -> None:
        for o in self.observers:
            o.outcomes_written(count, seconds)

    def event(self, name: str, amount: int) -> None:
        for o in self.observers:
            o.event(name, amount)
