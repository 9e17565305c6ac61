"""``aqueue-worker --log-format json``: one JSON object per line, with the job's
fields on each per-job line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.helpers import WorkerProcess, run
from tests.databases import TestDatabase


async def _enqueue(dsn: str, flag: Path) -> tuple[str, str]:
    import aqueue
    from tests.apps.recording import flaky, record

    queue = aqueue.Queue(dsn)
    async with queue:
        ok = await queue.enqueue_many([record.prepare(7)])
        bad = await queue.enqueue_many([flaky.prepare(str(flag), "<b>note</b>")])
    return ok[0].id, bad[0].id


def test_json_log_lines(db: TestDatabase, record_file: Path, tmp_path: Path) -> None:
    ok, bad = run(_enqueue(db.dsn, tmp_path / "missing-flag"))
    worker = WorkerProcess(db.dsn, record_file, "--burst", "--log-format", "json")
    assert worker.wait(60) == 0
    lines = [json.loads(line) for line in worker.output().splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "event"} <= set(line) for line in lines)
    by_job = {line.get("job_id"): line for line in lines if "job_id" in line}
    succeeded, failed = by_job[ok], by_job[bad]
    assert (succeeded["level"], succeeded["task"], succeeded["queue"], succeeded["attempt"],
            succeeded["status"]) == ("INFO", "record", "default", 1, "succeeded")
    assert isinstance(succeeded["duration"], float) and succeeded["worker"]
    assert (failed["level"], failed["status"], failed["error_type"]) == (
        "WARNING", "failed", "RuntimeError")
    assert "<b>note</b>" in failed["event"]  # JSON carries text as is; escaping is the viewer's
