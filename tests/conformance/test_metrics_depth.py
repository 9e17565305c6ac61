"""Queue-depth metrics on each backend: the gauges match the jobs, and among
workers one at a time reads them (the leader of the duty; another when it stops)."""

from __future__ import annotations

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
    return {
        (s.name, *sorted(s.labels.values())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


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
    sampler = DepthSampler.of(queue)
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
    first = DepthSampler.of(queue, 15, worker="w:1")
    second = DepthSampler.of(queue, 15, worker="w:2")
    assert await first.sample()
    assert not await second.sample()
    assert second.snapshot is None and not _gauges(second)
    # The holder keeps the lead round after round...
    assert await first.sample()
    assert not await second.sample()
    # ...and once it stops, another takes over at its next round.
    await first.stop()
    assert await second.sample()
    assert not await first.sample()
    assert first.snapshot is None and second.snapshot is not None
