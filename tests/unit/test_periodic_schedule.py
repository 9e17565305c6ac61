"""Cron schedules as pure logic: ticks, catch-up policies, DST in a timezone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from aqueue.errors import ConfigurationError
from aqueue.periodic import MAX_CATCH_UP, Schedule

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type,misc]


def ticks(schedule: Schedule, start: datetime, count: int) -> list[str]:
    found, moment = [], start
    for _ in range(count):
        moment = schedule.next_after(moment)
        found.append(moment.astimezone(BERLIN).strftime("%m-%d %H:%M %Z"))
    return found


def test_ticks_latest_and_seconds() -> None:
    every5 = Schedule("t", "*/5 * * * *")
    assert every5.next_after(utc(2026, 1, 1, 0, 7)) == utc(2026, 1, 1, 0, 10)
    assert every5.next_after(utc(2026, 1, 1, 0, 10)) == utc(2026, 1, 1, 0, 15)  # strictly after
    assert every5.latest(utc(2026, 1, 1, 0, 10)) == utc(2026, 1, 1, 0, 10)  # at or before
    assert every5.latest(utc(2026, 1, 1, 0, 14, 59)) == utc(2026, 1, 1, 0, 10)
    seconds = Schedule("t", "* * * * * */2")  # six fields: seconds last
    assert seconds.next_after(utc(2026, 1, 1, 0, 0, 1)) == utc(2026, 1, 1, 0, 0, 2)


def test_spring_forward_runs_a_skipped_tick_right_after_the_change() -> None:
    daily = Schedule("t", "30 2 * * *", timezone="Europe/Berlin")
    # 2026-03-29: clocks jump from 02:00 to 03:00; 02:30 does not exist.
    assert ticks(daily, datetime(2026, 3, 28, 12, tzinfo=BERLIN), 3) == [
        "03-29 03:00 CEST",
        "03-30 02:30 CEST",
        "03-31 02:30 CEST",
    ]


def test_fall_back_runs_a_fixed_hour_once_and_an_interval_by_real_time() -> None:
    # 2026-10-25: clocks go from 03:00 back to 02:00; 02:00-02:59 happens twice.
    daily = Schedule("t", "30 2 * * *", timezone="Europe/Berlin")
    assert ticks(daily, datetime(2026, 10, 24, 12, tzinfo=BERLIN), 2) == [
        "10-25 02:30 CEST",
        "10-26 02:30 CET",
    ]
    half_hourly = Schedule("t", "*/30 * * * *", timezone="Europe/Berlin")
    assert ticks(half_hourly, datetime(2026, 10, 25, 1, 50, tzinfo=BERLIN), 6) == [
        "10-25 02:00 CEST",
        "10-25 02:30 CEST",
        "10-25 02:00 CET",
        "10-25 02:30 CET",
        "10-25 03:00 CET",
        "10-25 03:30 CET",
    ]


def test_catch_up_policies() -> None:
    last = utc(2026, 1, 1, 0, 0)
    now = utc(2026, 1, 1, 0, 10, 30)  # ten minutely ticks missed
    latest = Schedule("t", "* * * * *")
    assert latest.due(last, now) == [utc(2026, 1, 1, 0, 10)]
    every = Schedule("t", "* * * * *", catch_up="all")
    assert every.due(last, now) == [utc(2026, 1, 1, 0, m) for m in range(1, 11)]
    assert len(every.due(last - timedelta(days=1), now)) == MAX_CATCH_UP
    skip = Schedule("t", "* * * * *", catch_up="skip")
    assert skip.due(last, now) == [utc(2026, 1, 1, 0, 10)]  # 30 s late: on time
    hourly_skip = Schedule("t", "0 * * * *", catch_up="skip")
    assert hourly_skip.due(last, utc(2026, 1, 1, 3, 30)) == []  # 03:00 is 30 min late
    assert latest.due(utc(2026, 1, 1, 0, 10), now) == []  # nothing new


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cron": "every minute"}, "invalid cron expression"),
        ({"cron": "61 * * * *"}, "invalid cron expression"),
        ({"cron": "* * * * *", "timezone": "Mars/Base"}, "unknown timezone"),
        ({"cron": "* * * * *", "catch_up": "some"}, "catch_up must be"),
        ({"cron": "* * * * *", "name": "x" * 300}, "longer than 255"),
    ],
)
def test_bad_schedules_are_refused(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Schedule("t", **kwargs)  # type: ignore[arg-type]


def test_the_default_name_is_task_cron_and_timezone() -> None:
    assert (
        Schedule("app.report", "0 6 * * 1", "Europe/Berlin").name
        == "app.report 0 6 * * 1 Europe/Berlin"
    )
