"""OpenTelemetry tracing on each backend: one trace per job, from the enqueue
span to a span per attempt, with the SDK's in-memory exporter."""

from __future__ import annotations

import pytest

import aqueue
from tests.databases import IN_CI

if not IN_CI:
    pytest.importorskip("opentelemetry.sdk", reason="needs aqueue[otel] and opentelemetry-sdk")
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from aqueue.tracing import instrument


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _attempt(span: ReadableSpan) -> int:
    attempt = (span.attributes or {}).get("aqueue.job.attempt", 0)
    assert isinstance(attempt, int)
    return attempt


def _named(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.name == name), key=_attempt)


async def test_one_trace_from_enqueue_through_a_retry(
    queue: aqueue.Queue, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    instrument(queue, tracer_provider=provider)

    @queue.task(name="flaky", takes_context=True, backoff=aqueue.Backoff(base=0, jitter=0))
    async def flaky(ctx: aqueue.JobContext, n: int) -> int:
        if ctx.attempt == 1:
            raise ValueError("first attempt fails")
        return n

    tracer = provider.get_tracer("the-app")
    with tracer.start_as_current_span("POST /signup"):
        job = await flaky.enqueue(7)
    assert await queue.process(5) == 2
    info = await queue.get_job(job.id)
    assert info is not None and info.status == "succeeded"

    spans = exporter.get_finished_spans()
    request = _named(spans, "POST /signup")[0]
    enqueue = _named(spans, "enqueue flaky")[0]
    first, second = _named(spans, "run flaky")
    assert request.context is not None and enqueue.context is not None
    trace_id = request.context.trace_id
    assert {s.context.trace_id for s in (enqueue, first, second)} == {trace_id}
    assert enqueue.kind == SpanKind.PRODUCER and enqueue.parent is not None
    assert enqueue.parent.span_id == request.context.span_id
    assert enqueue.attributes is not None
    assert enqueue.attributes["messaging.message.id"] == job.id
    for attempt, span in enumerate((first, second), start=1):
        assert span.kind == SpanKind.CONSUMER
        assert span.parent is not None and span.parent.span_id == enqueue.context.span_id
        assert span.attributes is not None
        assert span.attributes["aqueue.job.id"] == job.id
        assert span.attributes["aqueue.job.attempt"] == attempt
        assert span.attributes["messaging.destination.name"] == "default"
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes["aqueue.job.outcome"] == "retried"
    assert first.status.status_code == StatusCode.ERROR
    assert [e.name for e in first.events] == ["exception"]
    assert first.events[0].attributes is not None
    assert first.events[0].attributes["exception.type"] == "ValueError"
    assert second.attributes["aqueue.job.outcome"] == "succeeded"
    assert second.status.status_code == StatusCode.UNSET
    # The trace context is stored with the job, as W3C traceparent.
    assert info.meta is not None
    traceparent = info.meta["trace"]["traceparent"]
    assert traceparent.startswith(f"00-{trace_id:032x}-{enqueue.context.span_id:016x}-")


async def test_a_batch_is_one_span_and_a_final_failure_is_marked(
    queue: aqueue.Queue, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    instrument(queue, tracer_provider=provider)
    instrument(queue, tracer_provider=provider)  # twice: still one span per thing

    @queue.task(name="ok")
    async def ok(n: int) -> int:
        return n

    @queue.task(name="bad", max_attempts=1)
    async def bad() -> None:
        raise RuntimeError("for good")

    jobs = await queue.enqueue_many([ok.prepare(n) for n in range(3)] + [bad.prepare()])
    assert await queue.process(10) == 4
    spans = exporter.get_finished_spans()
    (enqueue,) = _named(spans, "enqueue")
    assert enqueue.attributes is not None and enqueue.parent is None
    assert enqueue.attributes["messaging.batch.message_count"] == 4
    runs = _named(spans, "run ok") + _named(spans, "run bad")
    assert len(runs) == 4
    assert {r.attributes["aqueue.job.id"] for r in runs} == {j.id for j in jobs}  # type: ignore[index]
    assert all(
        r.parent is not None
        and enqueue.context is not None
        and r.parent.span_id == enqueue.context.span_id
        for r in runs
    )
    (failed,) = _named(spans, "run bad")
    assert failed.attributes is not None and failed.attributes["aqueue.job.outcome"] == "failed"


async def test_untraced_queues_store_nothing(queue: aqueue.Queue) -> None:
    @queue.task(name="ok")
    async def ok() -> None:
        return None

    job = await ok.enqueue()
    info = await queue.get_job(job.id)
    assert info is not None and info.meta is None


async def test_other_middleware_runs_inside_the_attempts_span(
    queue: aqueue.Queue, provider: TracerProvider
) -> None:
    from opentelemetry import trace

    seen: list[str] = []

    @queue.middleware
    async def note(ctx: aqueue.JobContext, call_next: aqueue.middleware.CallNext) -> object:
        span = trace.get_current_span()
        seen.append(getattr(span, "name", "?"))
        return await call_next()

    instrument(queue, tracer_provider=provider)  # after: still the outermost

    @queue.task(name="ok")
    async def ok() -> None:
        return None

    await ok.enqueue()
    await queue.process(1)
    assert seen == ["run ok"]
