"""The worker and the CLI import no optional extra until it is used (the idle
worker's memory), and ``aqueue --log-format json`` reaches every command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXTRAS = ("starlette", "jinja2", "uvicorn", "prometheus_client", "opentelemetry")


def test_the_worker_and_cli_import_no_extra() -> None:
    code = (
        "import sys, aqueue, aqueue.cli.main, aqueue.worker\n"
        "aqueue.cli.main.build_parser()\n"
        "aqueue.Worker(aqueue.Queue('sqlite:///:memory:'))\n"
        f"print([m for m in sys.modules if m.split('.')[0] in {EXTRAS!r}])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_admin_commands_log_json_when_asked(tmp_path: Path) -> None:
    # The command sets up logging for the process: a line logged after it ran
    # comes out as a JSON object.
    code = (
        "import logging, sys\n"
        "from aqueue.cli.main import main\n"
        f"code = main(['--log-format', 'json', 'status', '--dsn', "
        f"'sqlite:///{tmp_path / 'x.db'}'])\n"
        "logging.getLogger('aqueue.test').warning('after %s', code)\n"
    )
    err = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stderr
    line = json.loads(err.strip().splitlines()[-1])
    assert (line["level"], line["logger"], line["event"]) == ("WARNING", "aqueue.test", "after 0")


def test_a_running_sqlite_worker_imports_no_archive_or_zone_modules(tmp_path: Path) -> None:
    """shutil (with bz2 and lzma, ~1.8 MB: argparse's terminal width, tempfile)
    and zoneinfo (~1 MB, schedules only) once pushed a draining worker past
    30 MB; a worker that parsed its arguments and ran a job imports none."""
    code = (
        "import sys\n"
        "from aqueue.cli.worker import main\n"
        f"code = main(['examples.hello:queue', '--burst', '--log-level', 'WARNING', "
        f"'--dsn', 'sqlite:///{tmp_path / 'w.db'}'])\n"
        "print(code, sorted(m for m in ('shutil', 'bz2', 'lzma', 'zoneinfo') "
        "if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    assert out.strip().splitlines()[-1] == "0 []"
