"""oban's side of the benchmark: one no-op worker (in a module of its own, so
the producer and ``oban start`` both know it as ``benchmarks.peers.oban_app.Noop``)."""

# oban is installed in .venv-oban only (Python >= 3.12).
# mypy: disable-error-code="import-not-found"

from __future__ import annotations

from typing import Any

from oban import worker

from benchmarks.peers.recorder import note_start


@worker(queue="default")
class Noop:
    async def process(self, job: Any) -> None:
        note_start(int(job.args.get("n", 0)))
