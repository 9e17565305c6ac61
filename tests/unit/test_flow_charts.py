"""The flow's counting and the charts' drawing: pure logic, no database."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aqueue.flow import FlowCounter, minute_of
from aqueue.records import ClaimedJob, FlowRow
from aqueue.web.charts import ceiling, depth_line, outcome_bars
from aqueue.web.flow import Bucket, buckets


def job(queue: str) -> ClaimedJob:
    return ClaimedJob(
        id="j",
        task="t",
        queue=queue,
        priority=0,
        args=[],
        kwargs={},
        attempts=1,
        max_attempts=3,
        timeout=None,
    )


def test_the_counter_adds_up_per_minute_and_queue_and_keeps_what_a_failed_write_returns() -> None:
    counter = FlowCounter()
    for queue, outcome in [
        ("a", "succeeded"),
        ("a", "succeeded"),
        ("a", "failed"),
        ("b", "retried"),
        ("b", "snoozed"),  # not charted
        ("b", "cancelled"),
    ]:
        counter.job_finished(job(queue), outcome, 0.1)
    rows = counter.take()
    assert [(r.queue, r.succeeded, r.failed, r.retried) for r in rows] == [
        ("a", 2, 1, 0),
        ("b", 0, 0, 1),
    ]
    assert counter.take() == []
    counter.put_back(rows)
    assert counter.take() == rows


def test_buckets_fill_the_span_and_keep_the_latest_depth() -> None:
    now = 1_800_000_000.0 + 330  # half a minute into the sixth minute of a quarter
    last = minute_of(now)
    rows = [
        FlowRow(last - 3600, "*", 99),  # before the hour: left out
        FlowRow(last - 120, "*", 1, 2, 3, 7),
        FlowRow(last, "*", 4, 0, 0, None),
    ]
    found = buckets(rows, 3600, 60, now)
    assert len(found) == 60 and found[0].start == last - 3540 and found[-1].start == last
    assert found[-3] == Bucket(last - 120, 1, 2, 3, 7)
    assert found[-1] == Bucket(last, 4, 0, 0, None)
    assert sum(b.succeeded for b in found) == 5
    # A day in quarters of an hour: minutes add up into their quarter.
    quarter = buckets(
        [FlowRow(last, "*", 2, 0, 0, 5), FlowRow(last - 60, "*", 1, 0, 0, 9)], 86400, 900, now
    )
    assert len(quarter) == 96 and quarter[-1].succeeded == 3


def test_axis_tops_are_round() -> None:
    assert [ceiling(v) for v in (0, 1, 3, 10, 11, 40, 51, 999)] == [1, 1, 5, 10, 20, 50, 100, 1000]


def test_charts_are_svg_without_inline_style_and_escape_their_labels() -> None:
    start = int(datetime(2026, 12, 7, 12, 0, tzinfo=UTC).timestamp())
    bars = [Bucket(start + 60 * i, i, i % 2, 1 if i == 3 else 0, i * 10) for i in range(5)]
    bars[2] = Bucket(start + 120)  # nothing ended, nothing sampled
    svg = str(outcome_bars(bars, 'a "label" <b>'))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "style=" not in svg and "<b>" not in svg and "&lt;b&gt;" in svg
    assert len(re.findall(r'<rect class="ok"', svg)) == 3  # the bars with a success
    assert '<rect class="fail"' in svg and '<rect class="retry"' in svg
    assert "12:03 UTC: 3 succeeded, 1 retried, 1 failed" in svg
    line = str(depth_line(bars, "due"))
    # The unsampled bucket breaks the line in two.
    assert line.count("<polyline") == 2 and line.count("<circle") == 4
    empty = str(outcome_bars([Bucket(start)], "nothing"))
    assert "<rect" not in empty and ">1</text>" in empty
