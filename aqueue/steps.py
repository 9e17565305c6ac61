"""Durable steps: ``await ctx.step("charge", charge, order_id)`` runs a step
of a job once, however many attempts the job takes.

The first attempt to finish a step stores its result (JSON) with the job,
fenced by that attempt: only while it still holds the job. Any later attempt
— a retry, a job rescued from a worker that died — finds the result stored
and gets it back without running the step again. So a job that crashed
after its second of three API calls starts again at the third.

- A step runs at least once, and at most once per attempt that gets as far
  as it: one whose attempt dies after the call but before the result is
  stored runs again. Make the step itself idempotent where that matters (an
  idempotency key for a payment).
- The result a step returns is what was stored, decoded: the same on the
  first run and on a replay (a tuple comes back as a list, as JSON has it).
- An attempt that lost the job (its lease ran out and another took it)
  cannot store a step: :class:`~aqueue.errors.AttemptLost` is raised in the
  task, which the worker discards like any lost attempt's outcome.
- Step names are the job's own: ``ctx.step`` with the same name returns the
  same stored result. Results go with the job when it is deleted.

``await ctx.sleep("1h")`` is a durable sleep built on a step and a snooze:
the first run stores when it should wake (the step ``aqueue:sleep:N`` for
the run's N-th sleep) and snoozes the job until then, freeing its slot; the
run after that finds the steps before the sleep stored, and the sleep over.

``await ctx.wait_for("approved", timeout=...)`` parks the job until
``await queue.signal(job_id, "approved", payload)``: it returns the payload
of a signal already sent (one sent before the wait is not lost); else it
stores that it waits (the step ``aqueue:wait:NAME``) and snoozes the job. A
signal to a parked job makes it due at once; one that lands in the instant
the job is parking is seen at its next look, within :data:`WAIT_LOOK`
seconds. Past ``timeout`` the wait raises ``TimeoutError`` in the task.
Sleeps and waits are counted in ``meta.snoozes`` but not limited.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aqueue import durations, serialization, validation
from aqueue.backends.base import Signals
from aqueue.errors import AttemptLost, ConfigurationError, Snooze

if TYPE_CHECKING:
    from aqueue.backends.base import Backend
    from aqueue.context import JobContext

#: The largest step result stored, in bytes of JSON (a task's result's bound).
MAX_STEP_BYTES = 1024 * 1024
#: Seconds a job parked by ``ctx.wait_for`` sleeps between looks at most
#: (a signal wakes it at once; the look catches one sent while it parked).
WAIT_LOOK = 60.0


class Parked(Snooze):
    """A snooze of ``ctx.sleep`` or ``ctx.wait_for``: meant, so not limited."""

    limited = False


@runtime_checkable
class StepStore(Protocol):
    """Where a job's steps are kept and its signals read: a backend's
    :class:`~aqueue.backends.base.Steps` and ``Signals``, or, in a child
    process, the worker's over the pipe."""

    async def job_step(self, job_id: str, name: str) -> str | None: ...

    async def store_step(
        self, job_id: str, attempt: int, worker: str, name: str, result: str
    ) -> str | None: ...

    async def job_signal(self, job_id: str, name: str) -> str | None: ...


async def run_step(
    store: StepStore,
    job_id: str,
    attempt: int,
    worker: str,
    name: str,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """The step's stored result, or ``fn(*args, **kwargs)``'s (awaited if it
    is awaitable), stored first."""
    name = validation.check_name("step name", name)
    stored = await store.job_step(job_id, name)
    if stored is not None:
        return serialization.decode(stored)
    value = fn(*args, **kwargs)
    if inspect.isawaitable(value):
        value = await value
    try:
        encoded = serialization.encode_result(value, MAX_STEP_BYTES)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"step {name!r}: {exc}") from None
    kept = await store.store_step(job_id, attempt, worker, name, encoded)
    if kept is None:
        raise AttemptLost(
            f"step {name!r} not stored: attempt {attempt} of job {job_id} no longer "
            "holds the job (its lease ran out and it was taken back)"
        )
    return serialization.decode(kept)


def _now() -> float:
    return time.time()


async def durable_sleep(ctx: JobContext, duration: float | str | timedelta) -> None:
    """Snooze the job until the stored wake-up time of this run's next sleep."""
    seconds = durations.seconds(duration, "sleep duration")
    ctx._sleeps[0] += 1
    wake = await ctx.step(f"aqueue:sleep:{ctx._sleeps[0]}", lambda: _now() + seconds)
    left = float(wake) - _now()
    if left > 0:
        raise Parked(left, f"sleeping, {left:g}s left")


def wait_step(name: str) -> str:
    """The step a job waiting for signal ``name`` stores (its deadline)."""
    return f"aqueue:wait:{name}"


async def wait_for(
    ctx: JobContext, name: str, timeout: float | str | timedelta | None = None
) -> Any:
    """The payload of the job's signal ``name``; parks the job until it comes."""
    name = validation.check_name("signal name", name)
    store = ctx._backend
    if not isinstance(store, StepStore):
        raise ConfigurationError("this database keeps no signals")
    seconds = None if timeout is None else durations.seconds(timeout, "wait timeout")
    payload = await store.job_signal(ctx.job_id, name)
    if payload is not None:
        return serialization.decode(payload)
    begins = False

    def deadline() -> float | None:
        nonlocal begins
        begins = True
        return None if seconds is None else _now() + seconds

    until = await ctx.step(wait_step(name), deadline)
    if begins:
        # The wait is stored only now: a signal from now on wakes the parked
        # job, and one sent since the first look is read here.
        payload = await store.job_signal(ctx.job_id, name)
        if payload is not None:
            return serialization.decode(payload)
    left = WAIT_LOOK if until is None else float(until) - _now()
    if left <= 0:
        raise TimeoutError(f"no signal {name!r} came within {seconds:g}s")
    raise Parked(min(left, WAIT_LOOK), f"waiting for signal {name!r}")


async def send_signal(backend: Backend, job_id: str, name: str, payload: Any) -> bool:
    """:meth:`aqueue.Queue.signal`."""
    job_id = validation.check_name("job id", job_id)
    name = validation.check_name("signal name", name)
    try:
        encoded = serialization.encode_result(payload, MAX_STEP_BYTES)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"signal {name!r}: {exc}") from None
    if not isinstance(backend, Signals):
        raise ConfigurationError("this database keeps no signals")
    return await backend.send_signal(job_id, name, encoded, wait_step(name))
