"""procrastinate's side of the benchmark: an app with one no-op async task."""

from __future__ import annotations

import os

import procrastinate

from benchmarks.peers.recorder import note_start

DSN = os.environ.get(
    "AQUEUE_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/aqueue_bench"
)

app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=DSN))


@app.task(name="noop")
async def noop(n: int = 0) -> None:
    note_start(n)
