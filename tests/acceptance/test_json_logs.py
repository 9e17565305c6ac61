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
    worker = WorkerProcess(db.dsn, record_file, "--burst", "--log-format", "json", "--log-jobs")
    assert worker.wait(60) == 0
    lines = [json.loads(line) for line in worker.output().splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "event"} <= set(line) for line in lines)
    by_job = {line.get("job_id"): line for line in lines if "job_id" in line}
    succeeded, failed = by_job[ok], by_job[bad]
    assert (
        succeeded["level"],
        succeeded["task"],
        succeeded["queue"],
        succeeded["attempt"],
        succeeded["status"],
    ) == ("INFO", "record", "default", 1, "succeeded")
    assert isinstance(succeeded["duration"], float) and succeeded["worker"]
    assert (failed["level"], failed["status"], failed["error_type"]) == (
        "WARNING",
        "failed",
        "RuntimeError",
    )
    assert "<b>note</b>" in failed["event"]  # JSON carries text as is; escaping is the viewer's


def test_by_default_successes_are_summed_up_not_logged_one_by_one(
    db: TestDatabase, record_file: Path, tmp_path: Path
) -> None:
    _ok, bad = run(_enqueue(db.dsn, tmp_path / "missing-flag"))
    worker = WorkerProcess(
        db.dsn, record_file, "--log-format", "json", "--log-summary-interval", "0.5"
    )
    worker.wait_for_output("job attempts finished in the last")
    assert worker.stop() == 0
    lines = [json.loads(line) for line in worker.output().splitlines() if line.strip()]
    job_lines = {line["job_id"] for line in lines if "job_id" in line}
    assert job_lines == {bad}  # the failure is logged; the success only counted
    summary = next(line for line in lines if "finished in the last" in line["event"])
    assert summary["level"] == "INFO"
    assert "1 succeeded" in summary["event"] and "1 failed" in summary["event"]
    stopped = next(line for line in lines if "stopped after" in line["event"])
    assert stopped["event"].endswith("stopped after 2 job attempts (1 failed, 1 succeeded)")


FORGED = "boom\n2026-01-01 00:00:00,000 CRITICAL aqueue.worker: forged line\x1b[2J\x1b]0;t\x07"


async def _enqueue_hostile(dsn: str) -> str:
    import aqueue
    from tests.apps.recording import hostile

    queue = aqueue.Queue(dsn)
    async with queue:
        [job] = await queue.enqueue_many([hostile.prepare(FORGED)])
    return job.id


def test_log_lines_cannot_be_forged_or_carry_escapes(db: TestDatabase, record_file: Path) -> None:
    """Regression: text logs printed exception messages raw (a newline forges
    a line; escape sequences reach the terminal that tails the log)."""
    job = run(_enqueue_hostile(db.dsn))
    worker = WorkerProcess(db.dsn, record_file, "--burst")
    assert worker.wait(60) == 0
    out = worker.output()
    assert "\x1b" not in out and "\x07" not in out
    assert not any(line.startswith("2026-01-01") for line in out.splitlines())
    line = next(line for line in out.splitlines() if job in line)
    assert "boom\\n2026-01-01" in line and "\\x1b[2J" in line
    run(_enqueue_hostile(db.dsn))
    worker = WorkerProcess(db.dsn, record_file, "--burst", "--log-format", "json")
    assert worker.wait(60) == 0
    assert "\x1b" not in worker.output()
    events = [json.loads(line)["event"] for line in worker.output().splitlines() if line.strip()]
    assert any("forged line" in event for event in events)
