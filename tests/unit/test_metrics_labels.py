"""Metric label values stay bounded whatever job rows hold."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.databases import IN_CI

if not IN_CI:
    pytest.importorskip("prometheus_client", reason="needs aqueue[metrics]")

from aqueue.metrics import MAX_QUEUES, WorkerMetrics, _bounded, _Labels
from aqueue.records import ClaimedJob, QueueCounts

ROOT = Path(__file__).resolve().parents[2]


def test_unknown_tasks_and_queues_past_the_cap_share_a_label() -> None:
    labels = _Labels()
    labels.tasks = frozenset({"send"})
    assert labels.task("send") == "send"
    assert labels.task("made.up") == "unknown"
    names = [labels.queue(f"q{n}") for n in range(MAX_QUEUES + 5)]
    assert names[:MAX_QUEUES] == [f"q{n}" for n in range(MAX_QUEUES)]
    assert set(names[MAX_QUEUES:]) == {"other"}
    assert labels.queue("q0") == "q0"  # a queue seen before keeps its label


def test_depths_past_the_cap_are_summed_into_other() -> None:
    summaries = [
        QueueCounts(f"q{n:03}", False, 1, 2, 3, 4, float(n), {}, {}) for n in range(MAX_QUEUES + 3)
    ]
    kept = _bounded(summaries)
    assert len(kept) == MAX_QUEUES + 1
    other = kept[-1]
    assert (other.name, other.due, other.scheduled, other.running, other.failed) == (
        "other",
        3,
        6,
        9,
        12,
    )
    assert other.oldest_due_age == float(MAX_QUEUES + 2)


def test_worker_metrics_never_label_by_job_id() -> None:
    metrics = WorkerMetrics()
    job = ClaimedJob(
        id="0" * 36,
        task="t",
        queue="q",
        priority=0,
        args=[],
        kwargs={},
        attempts=1,
        max_attempts=1,
        timeout=None,
        due=1.0,
    )
    metrics.job_started(job)
    metrics.job_finished(job, "succeeded", 0.01)
    for family in metrics.registry.collect():
        for sample in family.samples:
            assert "0" * 36 not in sample.labels.values()


def test_the_grafana_dashboard_uses_only_metrics_that_exist(tmp_path: Path) -> None:
    import aqueue
    from aqueue.metrics import depth_families

    worker = aqueue.Worker(aqueue.Queue(f"sqlite:///{tmp_path / 'x.db'}"))
    metrics = WorkerMetrics()
    metrics.attach(worker)
    job = ClaimedJob(
        id="1",
        task="t",
        queue="q",
        priority=0,
        args=[],
        kwargs={},
        attempts=1,
        max_attempts=1,
        timeout=None,
        due=1.0,
    )
    metrics.job_started(job)
    metrics.job_finished(job, "failed", 0.5)
    exported = {s.name for family in metrics.registry.collect() for s in family.samples}
    summary = QueueCounts("q", False, 1, 0, 0, 0, None, {}, {})
    exported |= {s.name for family in depth_families([summary]) for s in family.samples}
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b(?:aqueue|process)_[a-z_]+", target["expr"])
    }
    assert used and used <= exported, used - exported
