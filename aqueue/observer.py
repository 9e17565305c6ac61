"""The seam a worker reports what it does through, for metrics.

A worker calls these hooks only when it was given an observer (see
``Worker(observer=...)``); without one it pays a single ``is None`` check per
job. :class:`aqueue.metrics.WorkerMetrics` implements them with
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
