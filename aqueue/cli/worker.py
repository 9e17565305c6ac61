"""``aqueue-worker`` (and ``aqueue worker``): load an app, run a worker on it."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from aqueue import durations, logformat
from aqueue._worker.isolation import Processes
from aqueue._worker.output import DEFAULT_LIMIT as DEFAULT_OUTPUT_LIMIT
from aqueue.errors import AqueueError
from aqueue.queue import Queue
from aqueue.records import FINAL_STATUS_NAMES
from aqueue.stop_signals import on_stop_signals

EXIT_ERROR = 1


class StartupError(Exception):
    """Reported as one line on stderr, with a non-zero exit."""


def parse_duration(text: str) -> float:
    """``90``, ``45s``, ``30m``, ``12h``, ``7d`` or ``2w`` as seconds."""
    try:
        return durations.parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_retention(text: str) -> dict[str, float]:
    """``succeeded=7d,failed=30d`` as seconds per final status."""
    policy: dict[str, float] = {}
    for part in csv_list(text):
        status, _, age = part.partition("=")
        if status.strip() not in FINAL_STATUS_NAMES or not age:
            raise argparse.ArgumentTypeError(
                f"not a retention: {part!r} (try succeeded=7d,failed=30d,cancelled=7d)"
            )
        policy[status.strip()] = parse_duration(age)
    return policy


def csv_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def load_app(spec: str) -> Queue:
    """Import ``module:attribute`` and return the :class:`Queue` it names."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise StartupError(
            f"app must look like module:attribute (e.g. myapp.tasks:queue), not {spec!r}"
        )
    # Like `python -m`, find modules in the current directory.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except AqueueError as exc:
        raise StartupError(f"cannot import {module_name!r}: {exc}") from None
    except Exception as exc:
        raise StartupError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    try:
        app = getattr(module, attribute)
    except AttributeError:
        raise StartupError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(app, Queue):
        raise StartupError(f"{spec} is a {type(app).__name__}, not an aqueue.Queue")
    return app


#: ``aqueue-worker``'s slots when neither --concurrency nor --queue says.
DEFAULT_CONCURRENCY = 100

# -- worker -----------------------------------------------------------------------


def queue_slot(text: str) -> tuple[str, int]:
    """``NAME=N`` of ``--queue``."""
    name, sep, count = text.rpartition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=N, got {text!r}")
    try:
        slots = int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: N must be a whole number") from None
    if slots < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: N must be at least 1")
    return name, slots


def byte_size(text: str) -> int:
    """``200MB``, ``1.5GB``, ``512MiB``, ``300000000``: a number of bytes."""
    units = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "ki": 2**10, "mi": 2**20, "gi": 2**30}
    number = text.strip().lower().removesuffix("b")
    unit = number.lstrip("0123456789.")
    try:
        size = float(number[: len(number) - len(unit)]) * units[unit.strip()]
    except (KeyError, ValueError):
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 200MB or 1GiB)") from None
    if size < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a size must be at least one byte")
    return int(size)


def _concurrency(args: argparse.Namespace) -> int | None:
    given: int | None = args.concurrency
    if given is not None or args.queue_slots:
        return given  # None with --queue: the sum of the queues' slots
    processes: int | None = args.processes
    return processes if processes is not None else DEFAULT_CONCURRENCY


def _processes(args: argparse.Namespace) -> Processes | None:
    """Child processes for tasks: for every task with --processes, else for
    those declared isolation="process" (one child per CPU at most)."""
    app: str | None = getattr(args, "child_app", None) or getattr(args, "app", None)
    if app is None:
        return None
    return Processes(
        app,
        size=args.processes,
        every_task=args.processes is not None,
        max_tasks=args.max_tasks_per_child,
        max_memory=args.max_memory_per_child,
        setup=getattr(args, "child_setup", None),
    )


def add_worker_arguments(
    parser: argparse.ArgumentParser, *, app: bool = True, queue_option: bool = True
) -> None:
    """The worker's options on ``parser`` (``app``: with the positional
    ``module:attribute``; Django's ``aqueue_worker`` has its queue already, and
    its own ``--queue``, ``queue_option=False``)."""
    if app:
        parser.add_argument("app", help="the Queue to serve, as module:attribute")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="jobs run at once (default 100; with --queue, the sum of their slots)",
    )
    parser.add_argument(
        "--queues",
        type=csv_list,
        default=None,
        help="comma-separated queues to serve (default: all)",
    )
    if queue_option:
        parser.add_argument(
            "--queue",
            dest="queue_slots",
            metavar="NAME=N",
            type=queue_slot,
            action="append",
            default=None,
            help="serve queue NAME with N slots of its own (repeat for each queue; "
            "instead of --queues)",
        )
    else:
        parser.set_defaults(queue_slots=None)
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        metavar="N",
        help="run every task in N child processes (default: only tasks declared "
        "isolation='process', in one per CPU); --concurrency defaults to N",
    )
    parser.add_argument(
        "--max-tasks-per-child",
        type=int,
        default=None,
        metavar="N",
        help="replace a child process after N jobs",
    )
    parser.add_argument(
        "--max-memory-per-child",
        type=byte_size,
        default=None,
        metavar="SIZE",
        help="replace a child process after a job that left it above SIZE (e.g. 200MB)",
    )
    parser.add_argument(
        "--output-limit",
        type=byte_size,
        default=DEFAULT_OUTPUT_LIMIT,
        metavar="SIZE",
        help="captured output kept per attempt, its first and last halves (default 64KiB)",
    )
    parser.add_argument("--burst", action="store_true", help="exit when no job is due")
    parser.add_argument("--max-jobs", type=int, default=None, help="exit after N jobs")
    parser.add_argument(
        "--shutdown-timeout",
        type=float,
        default=30.0,
        help="seconds running jobs get to finish on SIGTERM (default 30)",
    )
    parser.add_argument("--dsn", default=None, help="database URL, overriding the app's")
    parser.add_argument(
        "--listen-dsn",
        default=None,
        help="PostgreSQL: where LISTEN connects, when --dsn goes through "
        "PgBouncer (default $AQUEUE_LISTEN_DSN)",
    )
    parser.add_argument(
        "--read-dsn",
        default=None,
        help="a read replica for the metrics' counts (default $AQUEUE_READ_DSN)",
    )
    parser.add_argument(
        "--lease",
        type=float,
        default=30.0,
        help="seconds a job's lease lasts before rescue (default 30)",
    )
    parser.add_argument(
        "--probe-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="without notifications (MySQL/MariaDB, SQLite without its "
        "wake-up socket, PostgreSQL without LISTEN), how often an idle "
        "worker reads whether a job is due (default 0.075 MySQL, 0.05 "
        "SQLite, 0.1 PostgreSQL; 0: only the poll)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=1.0,
        help="seconds between polls when idle (default 1)",
    )
    parser.add_argument(
        "--prefetch",
        type=int,
        default=None,
        help="jobs to hold claimed ahead of free slots (default: what the "
        "worker expects to start within 0.1 s, judged by recent jobs' "
        "durations)",
    )
    parser.add_argument(
        "--retention",
        type=parse_retention,
        default=None,
        metavar="STATUS=AGE,...",
        help="delete finished jobs past these ages, e.g. succeeded=7d,failed=30d "
        "(overrides the app's Queue(retention=...))",
    )
    parser.add_argument(
        "--no-periodic",
        action="store_true",
        help="do not enqueue the app's periodic jobs from this worker",
    )
    parser.add_argument(
        "--no-handover",
        action="store_true",
        help="PostgreSQL: never offer to take jobs straight from producers "
        "while idle; claim every job",
    )
    add_log_arguments(parser)
    parser.add_argument(
        "--log-jobs",
        action="store_true",
        help="log each successful job at INFO (default: DEBUG; failures are "
        "always logged at WARNING)",
    )
    parser.add_argument(
        "--log-summary-interval",
        type=parse_duration,
        default=60.0,
        metavar="SECONDS",
        help="seconds between INFO lines summing up the jobs finished (default 60; 0: none)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve Prometheus metrics at http://HOST:PORT/metrics (needs aqueue[metrics])",
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="HOST",
        help="address the metrics listen on (default 127.0.0.1; 0.0.0.0 in a container)",
    )
    parser.add_argument(
        "--metrics-interval",
        type=parse_duration,
        default=15.0,
        metavar="SECONDS",
        help="seconds between reads of queue depths from the database, by "
        "one worker at a time (default 15)",
    )


def add_log_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="text lines, or one JSON object per line (default text)",
    )


async def _run_worker(args: argparse.Namespace, queue: Queue | None) -> int:
    from aqueue.worker import Worker

    if queue is None:
        queue = load_app(args.app)
    if args.dsn or args.listen_dsn or args.read_dsn:
        queue.use_dsn(args.dsn, args.listen_dsn, args.read_dsn)
    try:
        worker = Worker(
            queue,
            concurrency=_concurrency(args),
            queue_slots=dict(args.queue_slots) if args.queue_slots else None,
            processes=_processes(args),
            queues=args.queues,
            burst=args.burst,
            max_jobs=args.max_jobs,
            shutdown_timeout=args.shutdown_timeout,
            lease=args.lease,
            poll_interval=args.poll_interval,
            probe_interval=args.probe_interval,
            prefetch=args.prefetch,
            periodic=not args.no_periodic,
            handover=not args.no_handover,
            retention=args.retention,
            log_jobs=args.log_jobs,
            summary_interval=args.log_summary_interval,
            output_limit=args.output_limit,
        )
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    server = _serve_metrics(worker, args) if args.metrics_port is not None else None
    try:
        try:
            await queue.open()
            await queue.check_schema()
        except AqueueError as exc:
            raise StartupError(str(exc)) from None
        _give_back_freed_memory()
        restore = on_stop_signals(asyncio.get_running_loop(), worker.stop)
        try:
            await worker.run()
        finally:
            restore()
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        await queue.close(worker.time_left())
    return 0


def _give_back_freed_memory() -> None:
    """Ask glibc to return the heap freed by start-up (imports, parsing the
    schema check's rows) to the system: ~0.4 MB of an idle worker's 30."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        pass


def _serve_metrics(worker: Any, args: argparse.Namespace) -> Any:
    try:
        from aqueue.metrics import instrument_worker
    except ImportError as exc:
        raise StartupError(
            f"--metrics-port needs the metrics extra: pip install 'aqueue[metrics]' ({exc})"
        ) from None
    try:
        return instrument_worker(
            worker, args.metrics_port, args.metrics_host, args.metrics_interval
        )
    except OSError as exc:
        raise StartupError(
            f"cannot serve metrics on {args.metrics_host}:{args.metrics_port}: "
            f"{exc.strerror or exc}"
        ) from None


def _help_formatter(prog: str) -> argparse.HelpFormatter:
    # argparse's default formatter imports shutil (with bz2 and lzma: ~1.8 MB
    # of a worker's 30) only to learn the terminal's width.
    try:
        width = os.get_terminal_size().columns - 2
    except OSError:
        width = 78
    return argparse.HelpFormatter(prog, width=max(40, width))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``aqueue-worker``."""
    parser = argparse.ArgumentParser(
        prog="aqueue-worker", description="Run an aqueue worker.", formatter_class=_help_formatter
    )
    add_worker_arguments(parser)
    args = parser.parse_args(argv)
    return run_worker(parser.prog, args)


def run_worker(
    prog: str, args: argparse.Namespace, queue: Queue | None = None, *, log_root: bool = True
) -> int:
    """Run a worker as ``args`` (of :func:`add_worker_arguments`) say, on
    ``queue`` or the app they name; the exit status. ``log_root=False`` sets
    up only aqueue's loggers (a framework's command configures the rest)."""
    logformat.configure(args.log_level, args.log_format, root=log_root)
    try:
        return asyncio.run(_run_worker(args, queue))
    except (StartupError, AqueueError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 0


# -- admin commands ---------------------------------------------------------------------
