"""The benchmark's app: one no-op async task."""

from __future__ import annotations

import os
import time

import aqueue

queue = aqueue.Queue()  # the worker is always given --dsn


@queue.task(name="bench.noop")
async def noop(n: int = 0) -> float:
    """Does nothing; returns when it started (W4 measures enqueue -> start with it)."""
    return time.time()


async def _passthrough(ctx: aqueue.JobContext, call_next: aqueue.middleware.CallNext) -> object:
    return await call_next()


# AQUEUE_BENCH_MIDDLEWARE=N wraps every job in N no-op middlewares, to measure
# what the chain costs (docs/performance.md).
for _ in range(int(os.environ.get("AQUEUE_BENCH_MIDDLEWARE", "0"))):
    queue.middleware(_passthrough)


def trace_everything(target: aqueue.Queue) -> None:
    """AQUEUE_BENCH_TRACING=1: trace enqueues and attempts with the OpenTelemetry
    SDK's batch processor, as an app exporting spans would; the exporter drops
    them, so the figure is aqueue's and the SDK's cost, not a collector's."""
    from collections.abc import Sequence

    from opentelemetry import trace
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    from aqueue.tracing import instrument

    class Dropped(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Dropped()))
        trace.set_tracer_provider(provider)
    instrument(target)


if os.environ.get("AQUEUE_BENCH_TRACING") == "1":
    trace_everything(queue)


@queue.task(name="bench.cpu")
def cpu(n: int = 0, milliseconds: float = 50.0) -> int:
    """About ``milliseconds`` of pure Python on this machine: the GIL holds it."""
    total, deadline = 0, time.thread_time() + milliseconds / 1000
    while time.thread_time() < deadline:
        total += sum(range(1000))
    return total


@queue.task(name="bench.sync_noop")
def sync_noop(n: int = 0) -> int:
    """A sync no-op: the thread hop, or the child's pipe, alone."""
    return n


# What captured output costs (benchmarks/processes.py): one line per job.


@queue.task(name="bench.say", capture_output=True)
async def say(n: int = 0) -> int:
    print(f"job {n} says hello")
    return n


@queue.task(name="bench.say_uncaptured")
async def say_uncaptured(n: int = 0) -> int:
    print(f"job {n} says hello")
    return n


@queue.task(name="bench.sync_say")
def sync_say(n: int = 0) -> int:
    """Captured when it runs in a child process (the default there)."""
    print(f"job {n} says hello")
    return n


@queue.task(name="bench.sync_say_uncaptured", capture_output=False)
def sync_say_uncaptured(n: int = 0) -> int:
    print(f"job {n} says hello")
    return n


# Durable steps (benchmarks/steps.py): a job of ``steps`` steps that do nothing.


@queue.task(name="bench.steps", takes_context=True)
async def stepped(ctx: aqueue.JobContext, steps: int = 10) -> int:
    for n in range(steps):
        await ctx.step(f"s{n}", int, n)
    return steps


@queue.task(name="bench.collect")
async def collect(results: list[object]) -> int:
    """A chord's callback: how many results it got."""
    return len(results)


@queue.task(name="bench.batch_done")
async def batch_done(counts: dict[str, object]) -> object:
    """A batch's callback: the counts it got."""
    return counts
