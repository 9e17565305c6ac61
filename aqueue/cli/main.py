"""``aqueue``: its commands and options; each command's work is in :mod:`aqueue.cli.admin`."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from aqueue import logformat
from aqueue.cli import admin
from aqueue.cli.worker import (
    EXIT_ERROR,
    StartupError,
    add_log_arguments,
    add_worker_arguments,
    csv_list,
    parse_duration,
    run_worker,
)
from aqueue.dsn import redact
from aqueue.errors import AqueueError


def _add_dashboard_arguments(parser: argparse.ArgumentParser) -> None:
    from aqueue.dashboard_cli import add_arguments

    add_arguments(parser)


def _reader_went_away() -> int:
    """``aqueue jobs | head -1``: the reader closed the pipe. End quietly, as a
    command killed by SIGPIPE would (status 141), with stdout pointed at
    /dev/null so that the flush at exit cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + signal.SIGPIPE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aqueue", description="Administer aqueue.")
    add_log_arguments(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--dsn",
            default=None,
            help="database URL (default: $AQUEUE_DSN, else sqlite:///aqueue.db)",
        )
        sub.add_argument(
            "--read-dsn",
            default=None,
            help="a read replica for lists, counts and health (default $AQUEUE_READ_DSN)",
        )
        sub.set_defaults(handler=handler, opens=True)
        return sub

    command("migrate", "create or upgrade aqueue's tables", admin.migrate)
    sub = command("status", "job counts per queue and status", admin.status)
    sub.add_argument("--json", action="store_true")
    sub = command("jobs", "list jobs, newest first", admin.jobs)
    sub.add_argument("--status", type=csv_list)
    sub.add_argument("--queue", type=csv_list)
    sub.add_argument("--task", type=csv_list)
    sub.add_argument("--tag", help="only jobs with this tag")
    sub.add_argument(
        "--arg",
        action="append",
        metavar="NAME=VALUE",
        help="only jobs whose argument NAME (a keyword, or a position: 0, 1, ...) is VALUE",
    )
    sub.add_argument("--error", help="only jobs whose error contains this text")
    sub.add_argument("--limit", type=int, default=50)
    sub.add_argument("--json", action="store_true")
    sub = command("retry", "queue failed or cancelled jobs again", admin.retry)
    sub.add_argument("ids", nargs="+", metavar="ID")
    sub = command(
        "logs", "what each attempt of a job printed and logged (tasks that capture)", admin.logs
    )
    sub.add_argument("job", metavar="ID")
    sub.add_argument("--attempt", type=int, default=None, metavar="N", help="this attempt only")
    sub.add_argument("--json", action="store_true", help="one JSON object per attempt")
    sub = command("cancel", "cancel queued jobs, stop running ones", admin.cancel)
    sub.add_argument("ids", nargs="+", metavar="ID")
    sub = command("purge", "delete old finished jobs, in batches", admin.purge)
    sub.add_argument(
        "--older-than", type=parse_duration, required=True, metavar="AGE", help="e.g. 7d, 12h, 30m"
    )
    sub.add_argument("--status", type=csv_list, help="default: succeeded,failed,cancelled")
    sub.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    sub.add_argument("--batch-size", type=int, default=1000)
    sub = command("pause", "stop workers claiming these queues' jobs", admin.pause)
    sub.add_argument("queues", nargs="+", metavar="QUEUE")
    sub = command("resume", "let workers claim these queues' jobs again", admin.resume)
    sub.add_argument("queues", nargs="+", metavar="QUEUE")
    sub = command(
        "queues", "every queue, paused or not, with its queued and running jobs", admin.queues
    )
    sub.add_argument("--json", action="store_true")
    sub = command("periodic", "an app's periodic schedules: next and last ticks", admin.periodic)
    sub.add_argument("app", help="the Queue, as module:attribute (as aqueue-worker takes it)")
    sub.add_argument("--json", action="store_true")
    sub = command("workers", "the workers registry: who runs, where, and which jobs", admin.workers)
    sub.add_argument("--json", action="store_true")
    sub.add_argument(
        "--jobs",
        type=int,
        default=5,
        metavar="N",
        help="running job ids shown per worker (default 5)",
    )
    sub = command(
        "health",
        "check the database, schema, waiting jobs, leases and workers; "
        "exit 0 healthy, 1 unhealthy, 2 cannot tell",
        admin.health,
    )
    sub.add_argument(
        "--max-queued-age",
        type=parse_duration,
        default=300.0,
        metavar="SECONDS",
        help="unhealthy when a due job has waited longer (default 300)",
    )
    sub.add_argument(
        "--min-workers",
        type=int,
        default=0,
        metavar="N",
        help="unhealthy with fewer workers alive (default 0)",
    )
    sub.add_argument(
        "--lease-grace",
        type=parse_duration,
        default=60.0,
        metavar="SECONDS",
        help="unhealthy when a running job's lease ran out longer ago (default 60)",
    )
    sub.add_argument(
        "--timeout",
        type=parse_duration,
        default=10.0,
        metavar="SECONDS",
        help="cannot tell (exit 2) when the database takes longer (default 10)",
    )
    sub.add_argument(
        "--max-replica-lag",
        type=parse_duration,
        default=60.0,
        metavar="SECONDS",
        help="unhealthy when the read replica is further behind (default 60)",
    )
    sub.add_argument("--json", action="store_true")
    sub.set_defaults(opens=False)
    sub = command(
        "backup",
        "copy a SQLite database with SQLite's online backup, safe while workers run",
        admin.backup,
    )
    sub.add_argument("target", help="the backup file to write (replaced if it exists)")
    sub.set_defaults(opens=False)
    sub = command(
        "export", "write jobs as JSON lines to stdout (portable, streaming)", admin.export_jobs
    )
    sub.add_argument("--status", type=csv_list, help="default: every status")
    sub.add_argument("--batch-size", type=int, default=1000)
    sub.add_argument(
        "--running-as-queued",
        action="store_true",
        help="export running jobs as queued (by default they are refused)",
    )
    sub = command(
        "import",
        "insert jobs from JSON lines (aqueue export's); existing ids are left alone",
        admin.import_jobs,
    )
    sub.add_argument("file", nargs="?", default="-", help="the file (default: - for stdin)")
    sub.add_argument("--batch-size", type=int, default=1000)
    sub.add_argument(
        "--strict",
        action="store_true",
        help="import nothing unless every line is good (then all in one "
        "transaction); by default refused lines are reported and the rest "
        "go in",
    )
    copy = commands.add_parser(
        "copy",
        help="copy jobs between two databases (any backends), ids and all",
        description="Copy jobs between two databases (any backends), ids and all. Running "
        "it again copies only what is missing.",
    )
    copy.add_argument("--from", dest="source", required=True, metavar="DSN")
    copy.add_argument("--to", dest="target", required=True, metavar="DSN")
    copy.add_argument("--status", type=csv_list, help="default: every status")
    copy.add_argument("--batch-size", type=int, default=1000)
    copy.add_argument(
        "--running-as-queued",
        action="store_true",
        help="copy running jobs as queued (by default they are refused)",
    )
    copy.set_defaults(handler=admin.copy_jobs, opens=False, dsn=None)
    sub = command(
        "metrics",
        "serve queue depths read from the database as Prometheus metrics (needs aqueue[metrics])",
        admin.metrics,
    )
    sub.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sub.add_argument("--port", type=int, default=9191)
    sub.add_argument(
        "--interval",
        type=parse_duration,
        default=15.0,
        metavar="SECONDS",
        help="seconds between reads of the database (default 15)",
    )
    dashboard = commands.add_parser(
        "dashboard",
        help="serve the web dashboard and JSON API (needs aqueue[web])",
        description="Serve the web dashboard and JSON API. Actions need the token in "
        "$AQUEUE_DASHBOARD_TOKEN (one is made and printed if unset).",
    )
    _add_dashboard_arguments(dashboard)
    worker = commands.add_parser("worker", help="run a worker (same as aqueue-worker)")
    add_worker_arguments(worker)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``aqueue``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "worker":  # the worker's own --log-* options configure it
        logformat.configure(args.log_level, args.log_format)
    if args.command == "worker":
        return run_worker("aqueue worker", args)
    if args.command == "dashboard":
        from aqueue.dashboard_cli import run  # imports nothing of the web extra until it runs

        return run(args)
    try:
        return asyncio.run(admin.run_admin(args))
    except BrokenPipeError:
        return _reader_went_away()
    except (StartupError, AqueueError) as exc:
        print(f"aqueue {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a driver error we did not translate: still one line
        message = redact(str(exc))
        print(f"aqueue {args.command}: error: {type(exc).__name__}: {message}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
