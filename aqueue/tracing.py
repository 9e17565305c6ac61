"""OpenTelemetry tracing (``pip install 'aqueue[otel]'``), through the middleware hooks.

``aqueue.tracing.instrument(queue)`` adds two middlewares, outermost:

- around each enqueue, a PRODUCER span ``enqueue <task>`` (one per call: a
  batch of 1,000 jobs is one span); its W3C trace context (``traceparent``,
  and ``tracestate`` if any) is stored with each job, in ``meta["trace"]``;
- around each attempt, a CONSUMER span ``run <task>`` whose parent is that
  producer span. So a job is one trace from enqueue to its last attempt, and
  each attempt (retries included) is its own span in it, with the job id,
  task, queue, attempt and outcome; an exception is recorded on its span.

Why a child and not a link: a job is the continuation of the request that
enqueued it, and trace views show a child in place (the request, the
enqueue, then each attempt), where a link sends the reader to another trace.
Jobs enqueued without a current span, and periodic ticks, start their own
trace at their first attempt.

The application sets up the SDK (a ``TracerProvider`` and an exporter) as
for any other library; aqueue uses only the OpenTelemetry API.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from aqueue import serialization
from aqueue._version import __version__
from aqueue.errors import Snooze
from aqueue.middleware import CallNext, EnqueueNext

if TYPE_CHECKING:
    from aqueue.context import JobContext
    from aqueue.job import Job
    from aqueue.queue import Queue
    from aqueue.task import JobOptions, JobRequest

#: The key of ``meta`` the trace context is stored under.
META_KEY = "trace"


def instrument(queue: Queue, tracer_provider: trace.TracerProvider | None = None) -> None:
    """Trace ``queue``'s enqueues and job attempts (once; later calls do nothing).

    The spans are the outermost middleware, so other middleware runs inside
    them and sees the attempt's span as the current one.
    """
    if any(isinstance(mw, _JobSpans) for mw in queue.middleware.jobs):
        return
    tracer = trace.get_tracer("aqueue", __version__, tracer_provider=tracer_provider)
    queue.middleware.job(_JobSpans(tracer), outermost=True)
    queue.middleware.enqueue(_EnqueueSpans(tracer), outermost=True)


def _with_trace(options: JobOptions, carrier: dict[str, str]) -> JobOptions:
    meta: dict[str, Any] = {}
    if options.meta is not None:
        stored = serialization.decode(options.meta)
        if isinstance(stored, dict):
            meta = stored
    meta[META_KEY] = carrier
    return dataclasses.replace(options, meta=serialization.encode(meta))


class _EnqueueSpans:
    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    async def __call__(self, requests: list[JobRequest], call_next: EnqueueNext) -> list[Job[Any]]:

        tasks = sorted({r.task for r in requests})
        queues = sorted({r.options.queue for r in requests})
        attributes: dict[str, Any] = {
            "messaging.system": "aqueue",
            "messaging.operation.type": "send",
            "messaging.batch.message_count": len(requests),
            "aqueue.task": tasks[0] if len(tasks) == 1 else tasks,
            "messaging.destination.name": queues[0] if len(queues) == 1 else queues,
        }
        name = f"enqueue {tasks[0]}" if len(tasks) == 1 else "enqueue"
        with self._tracer.start_as_current_span(
            name, kind=SpanKind.PRODUCER, attributes=attributes
        ) as span:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            if carrier:
                # One new options object per distinct one: jobs that shared
                # options still share them (and are inserted as one kind).
                replaced: dict[int, JobOptions] = {}
                traced = []
                for r in requests:
                    options = replaced.get(id(r.options))
                    if options is None:
                        options = replaced[id(r.options)] = _with_trace(r.options, carrier)
                    traced.append(dataclasses.replace(r, options=options))  # keeps a given job_id
                requests = traced
            jobs = await call_next(requests)
            if len(jobs) == 1:
                span.set_attribute("messaging.message.id", jobs[0].id)
            return jobs


class _JobSpans:
    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    async def __call__(self, ctx: JobContext, call_next: CallNext) -> Any:
        carrier = (ctx.meta or {}).get(META_KEY)
        parent = propagate.extract(carrier) if isinstance(carrier, dict) else None
        attributes: dict[str, Any] = {
            "messaging.system": "aqueue",
            "messaging.operation.type": "process",
            "messaging.destination.name": ctx.queue,
            "messaging.message.id": ctx.job_id,
            "aqueue.task": ctx.task,
            "aqueue.job.id": ctx.job_id,
            "aqueue.job.attempt": ctx.attempt,
            "aqueue.job.max_attempts": ctx.max_attempts,
            "aqueue.worker": ctx.worker,
        }
        with self._tracer.start_as_current_span(
            f"run {ctx.task}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                value = await call_next()
            except asyncio.CancelledError:
                # A cancel request, the task's timeout, a lost lease or a shutdown.
                span.set_attribute("aqueue.job.outcome", "stopped")
                span.set_status(Status(StatusCode.ERROR, "stopped before it finished"))
                raise
            except Snooze:
                span.set_attribute("aqueue.job.outcome", "snoozed")
                raise
            except Exception as exc:
                retried = ctx.attempt < ctx.max_attempts
                span.set_attribute("aqueue.job.outcome", "retried" if retried else "failed")
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                raise
            span.set_attribute("aqueue.job.outcome", "succeeded")
            return value
