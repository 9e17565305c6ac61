"""Queue-depth metrics on each backend: the gauges match the jobs, and among
workers one at a time reads them (a sticky turn, taken over when its holder stops)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import aqueue
from tests.databases import IN_CI

if not IN_CI:
    pytest.importorskip("prometheus_client", reason="needs aqueue[metrics]")
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from aqueue.metrics import DepthCollector, DepthSampler


def _gauges(sampler: DepthSampler) -> dict[tuple[str, ...], float]:
    registry = CollectorRegistry()
    registry.register(DepthCollector(sampler))
    text = generate_latest(registry).decode()
    return {(s.name, *sorted(s.labels.values())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_depth_gauges_match_the_jobs(queue: aqueue.Queue) -> None:
    @queue.task(name="ok")
    async def ok() -> None:
        return None

    @queue.task(name="bad", max_attempts=1)
    async def bad() -> None:
        raise ValueError("no")

    await bad.enqueue()
    await queue.process(1)
    for _ in range(3):
        await ok.enqueue()
    await ok.using(delay=3600, queue="later").enqueue()
    await queue.pause("later")
    sampler = DepthSampler(queue, take_turns=False)
    assert await sampler.sample()
    gauges = _gauges(sampler)
    assert gauges[("aqueue_queue_jobs", "default", "due")] == 3
    assert gauges[("aqueue_queue_jobs", "default", "failed")] == 1
    assert gauges[("aqueue_queue_jobs", "default", "running")] == 0
    assert gauges[("aqueue_queue_jobs", "later", "scheduled")] == 1
    assert gauges[("aqueue_queue_paused", "later")] == 1
    assert gauges[("aqueue_queue_paused", "default")] == 0
    assert 0 <= gauges[("aqueue_queue_oldest_due_age_seconds", "default")] < 60


async def test_one_sampler_at_a_time(queue: aqueue.Queue) -> None:
    first, second = DepthSampler(queue, 15), DepthSampler(queue, 15)
    now = datetime.now(UTC)
    assert await first.sample(now)
    assert not await second.sample(now + timedelta(seconds=1))
    assert second.snapshot is None and not _gauges(second)
    # The holder keeps its turn interval after interval...
    assert await first.sample(now + timedelta(seconds=15))
    assert not await second.sample(now + timedelta(seconds=20))
    # ...and once it stops moving the row for three intervals, another takes over.
    assert await second.sample(now + timedelta(seconds=15 + 46))
    assert not await first.sample(now + timedelta(seconds=15 + 47))
    assert first.snapshot is None and second.snapshot is not None
