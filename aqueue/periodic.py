"""Periodic jobs: cron schedules that every worker keeps, each tick enqueued once.

Every running worker computes the same ticks from the same schedules. A tick
is enqueued by moving the schedule's ``last_tick`` row from the value the
worker last saw to the new tick (compare and set), in the transaction that
inserts the tick's job: however many workers race for a tick, one wins and
the others see the row already moved. No leader, no lock held between ticks.

Cron expressions are parsed by croniter: five fields, or six with seconds
last (``"*/10 * * * * *"``). Daylight saving time, in a schedule's timezone:

- clocks go forward: a tick in the skipped hour runs at the first moment
  after the change (``30 2 * * *`` runs at 03:00 that day);
- clocks go back: a schedule with a fixed hour runs once (``30 2 * * *`` runs
  at the first 02:30 only); one whose hour field has a ``*`` runs at every
  interval of real time (``*/30 * * * *`` runs at both 02:00 and both 02:30).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from aqueue import serialization
from aqueue.backends.base import Schedules
from aqueue.errors import ConfigurationError
from aqueue.records import NewJob
from aqueue.service import Service

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from croniter import croniter

    from aqueue.queue import Queue

log = logging.getLogger("aqueue.periodic")

CatchUp = Literal["latest", "all", "skip"]
#: "all" enqueues at most this many missed ticks (the latest ones).
MAX_CATCH_UP = 100
#: A tick this late counts as missed, for ``catch_up="skip"``.
LATE_AFTER = timedelta(seconds=60)
#: A worker looks at the schedules at least this often (another worker may
#: have moved a tick; the wall clock may have jumped).
MAX_SLEEP = 60.0


def _croniter() -> type[croniter]:
    # Imported when a schedule is made: a worker without one never loads it.
    from croniter import croniter

    return croniter


@dataclass(frozen=True)
class Schedule:
    """One cron schedule of one task."""

    task: str
    cron: str
    timezone: str = "UTC"
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    catch_up: CatchUp = "latest"
    #: The schedule's key in the database; by default task, cron and timezone.
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.cron, str) or not _croniter().is_valid(self.cron):
            raise ConfigurationError(f"invalid cron expression {self.cron!r} for {self.task!r}")
        # zoneinfo only where schedules are declared: it costs a worker ~1 MB.
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ConfigurationError(
                f"unknown timezone {self.timezone!r} for {self.task!r}"
            ) from None
        if self.catch_up not in ("latest", "all", "skip"):
            raise ConfigurationError(
                f"catch_up must be 'latest', 'all' or 'skip', not {self.catch_up!r}"
            )
        if not self.name:
            object.__setattr__(self, "name", f"{self.task} {self.cron} {self.timezone}")
        if len(self.name) > 255:
            raise ConfigurationError(
                f"schedule name longer than 255 characters: give it "
                f"a shorter name=: {self.name[:60]!r}..."
            )

    @property
    def zone(self) -> ZoneInfo:
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.timezone)

    def _fixed_hour(self) -> bool:
        return "*" not in self.cron.split()[1]

    def _repeat(self, tick: datetime) -> bool:
        """A fixed-hour tick in the hour that clocks repeat, the second time."""
        local = tick.astimezone(self.zone)
        if local.fold == 0 or not self._fixed_hour():
            return False
        return local.replace(fold=0).astimezone(UTC) != local.astimezone(UTC)

    def _walk(self, start: datetime, backwards: bool) -> Iterator[datetime]:
        it = _croniter()(self.cron, start.astimezone(self.zone))
        while True:
            tick = (it.get_prev if backwards else it.get_next)(datetime).astimezone(UTC)
            if not self._repeat(tick):
                yield tick

    def next_after(self, moment: datetime) -> datetime:
        """The first tick strictly after ``moment``."""
        return next(self._walk(moment, backwards=False))

    def latest(self, moment: datetime) -> datetime:
        """The last tick at or before ``moment``."""
        return next(self._walk(moment + timedelta(microseconds=1), backwards=True))

    def due(self, last: datetime, now: datetime) -> list[datetime]:
        """The ticks after ``last`` up to ``now`` this schedule enqueues, oldest
        first: per ``catch_up``, the latest, all (at most :data:`MAX_CATCH_UP`),
        or the latest only if it is not late."""
        found: list[datetime] = []
        limit = MAX_CATCH_UP if self.catch_up == "all" else 1
        for tick in self._walk(now + timedelta(microseconds=1), backwards=True):
            if tick <= last or len(found) == limit:
                break
            found.append(tick)
        if self.catch_up == "skip":
            found = [t for t in found if now - t < LATE_AFTER]
        return found[::-1]

    def meta(self, tick: datetime) -> str:
        """The job's ``meta``: which schedule and tick enqueued it."""
        return serialization.encode({"periodic": {"schedule": self.name, "tick": tick.isoformat()}})


#: Makes the rows of a schedule's ticks: ``rows(schedule, ticks)``.
RowMaker = Callable[[Schedule, Sequence[datetime]], list[NewJob]]


class Scheduler(Service):
    """Keeps a queue's schedules in a worker: enqueues each tick it wins."""

    duty = "enqueue periodic jobs"

    def __init__(
        self,
        backend: Schedules,
        schedules: Sequence[Schedule],
        rows: RowMaker,
        enqueued: Callable[[str], None],
    ) -> None:
        # Wakes at each tick; a little spread, so that workers started together
        # do not all hit the row in the same millisecond (the losers re-read).
        super().__init__(MAX_SLEEP, jitter=0.0, first_after=0.0)
        self._backend = backend
        self._schedules = list(schedules)
        self._rows = rows
        self._enqueued = enqueued
        #: Each schedule's last tick as this worker last saw it in the database.
        self._seen: dict[str, datetime | None] | None = None

    @classmethod
    def of(cls, queue: Queue) -> Scheduler:
        """The scheduler of ``queue``'s schedules (in a worker of that queue)."""
        from aqueue.task import new_jobs

        backend = queue.backend
        assert isinstance(backend, Schedules)

        def rows(schedule: Schedule, ticks: Sequence[datetime]) -> list[NewJob]:
            task = queue.task_named(schedule.task)
            return new_jobs(
                [task.using(run_after=t).prepare(*schedule.args, **schedule.kwargs) for t in ticks],
                queue.max_payload_bytes,
            )

        def enqueued(task: str) -> None:
            queue_name = queue.task_named(task).options.queue
            for hook in queue.enqueue_hooks:  # wake this process's own idle worker
                hook(queue_name)

        return cls(backend, queue.schedules, rows, enqueued)

    async def _load(self) -> None:
        stored = await self._backend.last_ticks()
        self._seen = {s.name: stored.get(s.name) for s in self._schedules}

    async def tick(self, now: datetime | None = None) -> int:
        """Enqueue what is due now; returns how many jobs this worker wrote."""
        if self._seen is None:
            await self._load()
        seen = self._seen
        assert seen is not None
        now = now or datetime.now(UTC)
        written = 0
        lost = False
        for schedule in self._schedules:
            last = seen.get(schedule.name)
            if last is None:
                # A new schedule starts now: ticks before it existed never run.
                target, due = schedule.latest(now), []
            else:
                due = schedule.due(last, now)
                target = schedule.latest(now)
                if target <= last:
                    continue
            rows = self._rows(schedule, due)
            jobs = [(row, schedule.meta(t)) for row, t in zip(rows, due, strict=True)]
            ids = await self._backend.advance_tick(schedule.name, last, target, jobs)
            if ids is None:
                lost = True  # another worker moved it: read it again below
                continue
            seen[schedule.name] = target
            written += len(ids)
            for t, job_id in zip(due, ids, strict=True):
                log.info(
                    "periodic %s: tick %s enqueued as job %s", schedule.name, t.isoformat(), job_id
                )
            if ids:
                self._enqueued(schedule.task)
        if lost:
            await self._load()
        return written

    async def step(self) -> None:
        await self.tick()

    def pause(self) -> float:
        """Until the nearest next tick (at most a minute: another worker may
        have moved a tick, the wall clock may have jumped), or the back-off."""
        if self.failures or self._seen is None:
            return super().pause()
        now = datetime.now(UTC)
        seen = self._seen
        nearest = min(
            (s.next_after(max(now, seen.get(s.name) or now)) for s in self._schedules),
            default=now + timedelta(seconds=MAX_SLEEP),
        )
        return min(max((nearest - now).total_seconds(), 0.0), MAX_SLEEP) + random.uniform(0, 0.02)


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """A schedule of an app, with its last tick in the database and its next one."""

    name: str
    task: str
    cron: str
    timezone: str
    catch_up: CatchUp
    last_tick: datetime | None
    next_tick: datetime


async def schedule_states(queue: Queue, now: datetime | None = None) -> list[ScheduleState]:
    """``queue``'s schedules (``aqueue periodic``, the dashboard): when each
    last enqueued a tick, and when it next will."""
    await queue.open()
    backend = queue.backend
    last = await backend.last_ticks() if isinstance(backend, Schedules) else {}
    now = now or datetime.now(UTC)
    return [
        ScheduleState(
            s.name, s.task, s.cron, s.timezone, s.catch_up, last.get(s.name), s.next_after(now)
        )
        for s in queue.schedules
    ]
