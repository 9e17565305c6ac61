"""The ``aqueue`` and ``aqueue-worker`` commands."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aqueue import durations, logformat
from aqueue.dsn import redact
from aqueue.errors import AqueueError
from aqueue.escape import json_line, printable
from aqueue.queue import Queue
from aqueue.records import FINAL_STATUS_NAMES, JobFilter, JobInfo

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
    for part in _csv(text):
        status, _, age = part.partition("=")
        if status.strip() not in FINAL_STATUS_NAMES or not age:
            raise argparse.ArgumentTypeError(
                f"not a retention: {part!r} (try succeeded=7d,failed=30d,cancelled=7d)")
        policy[status.strip()] = parse_duration(age)
    return policy


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def load_app(spec: str) -> Queue:
    """Import ``module:attribute`` and return the :class:`Queue` it names."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise StartupError(f"app must look like module:attribute (e.g. myapp.tasks:queue), "
                           f"not {spec!r}")
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


# -- worker -----------------------------------------------------------------------


def add_worker_arguments(parser: argparse.ArgumentParser, *, app: bool = True) -> None:
    """The worker's options on ``parser`` (``app``: with the positional
    ``module:attribute``; Django's ``aqueue_worker`` has its queue already)."""
    if app:
        parser.add_argument("app", help="the Queue to serve, as module:attribute")
    parser.add_argument("--concurrency", type=int, default=100,
                        help="jobs run at once (default 100)")
    parser.add_argument("--queues", type=_csv, default=None,
                        help="comma-separated queues to serve (default: all)")
    parser.add_argument("--burst", action="store_true", help="exit when no job is due")
    parser.add_argument("--max-jobs", type=int, default=None, help="exit after N jobs")
    parser.add_argument("--shutdown-timeout", type=float, default=30.0,
                        help="seconds running jobs get to finish on SIGTERM (default 30)")
    parser.add_argument("--dsn", default=None, help="database URL, overriding the app's")
    parser.add_argument("--listen-dsn", default=None,
                        help="PostgreSQL: where LISTEN connects, when --dsn goes through "
                             "PgBouncer (default $AQUEUE_LISTEN_DSN)")
    parser.add_argument("--lease", type=float, default=30.0,
                        help="seconds a job's lease lasts before rescue (default 30)")
    parser.add_argument("--probe-interval", type=float, default=None, metavar="SECONDS",
                        help="without notifications (MySQL/MariaDB, SQLite without its "
                             "wake-up socket, PostgreSQL without LISTEN), how often an idle "
                             "worker reads whether a job is due (default 0.075 MySQL, 0.05 "
                             "SQLite, 0.1 PostgreSQL; 0: only the poll)")
    parser.add_argument("--poll-interval", type=float, default=1.0,
                        help="seconds between polls when idle (default 1)")
    parser.add_argument("--prefetch", type=int, default=None,
                        help="jobs to hold claimed ahead of free slots (default: what the "
                             "worker expects to start within 0.1 s, judged by recent jobs' "
                             "durations)")
    parser.add_argument("--retention", type=parse_retention, default=None,
                        metavar="STATUS=AGE,...",
                        help="delete finished jobs past these ages, e.g. succeeded=7d,failed=30d "
                             "(overrides the app's Queue(retention=...))")
    parser.add_argument("--no-periodic", action="store_true",
                        help="do not enqueue the app's periodic jobs from this worker")
    parser.add_argument("--no-handover", action="store_true",
                        help="PostgreSQL: never offer to take jobs straight from producers "
                             "while idle; claim every job")
    _add_log_arguments(parser)
    parser.add_argument("--log-jobs", action="store_true",
                        help="log each successful job at INFO (default: DEBUG; failures are "
                             "always logged at WARNING)")
    parser.add_argument("--log-summary-interval", type=parse_duration, default=60.0,
                        metavar="SECONDS",
                        help="seconds between INFO lines summing up the jobs finished "
                             "(default 60; 0: none)")
    parser.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                        help="serve Prometheus metrics at http://HOST:PORT/metrics "
                             "(needs aqueue[metrics])")
    parser.add_argument("--metrics-host", default="127.0.0.1", metavar="HOST",
                        help="address the metrics listen on (default 127.0.0.1; 0.0.0.0 in "
                             "a container)")
    parser.add_argument("--metrics-interval", type=parse_duration, default=15.0,
                        metavar="SECONDS",
                        help="seconds between reads of queue depths from the database, by "
                             "one worker at a time (default 15)")


def _add_log_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    parser.add_argument("--log-format", choices=["text", "json"], default="text",
                        help="text lines, or one JSON object per line (default text)")


async def _run_worker(args: argparse.Namespace, queue: Queue | None) -> int:
    from aqueue.worker import Worker

    if queue is None:
        queue = load_app(args.app)
    if args.dsn or args.listen_dsn:
        queue.use_dsn(args.dsn, args.listen_dsn)
    try:
        worker = Worker(
            queue, concurrency=args.concurrency, queues=args.queues, burst=args.burst,
            max_jobs=args.max_jobs, shutdown_timeout=args.shutdown_timeout, lease=args.lease,
            poll_interval=args.poll_interval, probe_interval=args.probe_interval,
            prefetch=args.prefetch,
            periodic=not args.no_periodic, handover=not args.no_handover,
            retention=args.retention, log_jobs=args.log_jobs,
            summary_interval=args.log_summary_interval,
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
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.stop)
        await worker.run()
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        await queue.close(worker.time_left())
    return 0


def _serve_metrics(worker: Any, args: argparse.Namespace) -> Any:
    try:
        from aqueue.metrics import instrument_worker
    except ImportError as exc:
        raise StartupError(f"--metrics-port needs the metrics extra: pip install "
                           f"'aqueue[metrics]' ({exc})") from None
    try:
        return instrument_worker(worker, args.metrics_port, args.metrics_host,
                                 args.metrics_interval)
    except OSError as exc:
        raise StartupError(f"cannot serve metrics on {args.metrics_host}:{args.metrics_port}: "
                           f"{exc.strerror or exc}") from None


def _help_formatter(prog: str) -> argparse.HelpFormatter:
    # argparse's default formatter imports shutil (with bz2 and lzma: ~1.8 MB
    # of a worker's 30) only to learn the terminal's width.
    try:
        width = os.get_terminal_size().columns - 2
    except OSError:
        width = 78
    return argparse.HelpFormatter(prog, width=max(40, width))


def worker_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``aqueue-worker``."""
    parser = argparse.ArgumentParser(prog="aqueue-worker", description="Run an aqueue worker.",
                                     formatter_class=_help_formatter)
    add_worker_arguments(parser)
    args = parser.parse_args(argv)
    return run_worker(parser.prog, args)


def run_worker(prog: str, args: argparse.Namespace, queue: Queue | None = None, *,
               log_root: bool = True) -> int:
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


def _format_jobs(jobs: list[JobInfo]) -> str:
    # Names and error types come from job rows: escaped for the terminal.
    lines = [f"{'id':36}  {'status':9}  {'queue':12}  {'attempts':8}  {'created (UTC)':19}  task"]
    for job in jobs:
        error = f"  [{printable(str(job.error.get('type'))[:200])}]" if job.error else ""
        if job.decode_error:
            error += f"  [stored JSON unreadable: {printable(job.decode_error[:60])}]"
        lines.append(
            f"{job.id:36}  {job.status.value:9}  {printable(job.queue[:12]):12}  "
            f"{job.attempts:>3}/{job.max_attempts:<4}  "
            f"{job.created_at:%Y-%m-%d %H:%M:%S}  {printable(job.task)}{error}"
        )
    return "\n".join(lines)


def _job_json(job: JobInfo) -> dict[str, Any]:
    from aqueue.portable import job_to_dict

    return job_to_dict(job)


async def _admin(args: argparse.Namespace) -> int:
    if getattr(args, "app", None):
        queue = load_app(args.app)
        if args.dsn:
            queue.use_dsn(args.dsn)
    else:
        queue = Queue(args.dsn)
    command: Callable[[Queue, argparse.Namespace], Awaitable[int]] = args.handler
    if not args.opens:
        # health and backup open the database themselves, if they can: opening
        # would fail the unreachable, and create (migrate) a missing SQLite file.
        try:
            return await command(queue, args)
        finally:
            await queue.close()
    async with queue:
        return await command(queue, args)


async def _migrate(queue: Queue, args: argparse.Namespace) -> int:
    applied = await queue.migrate()
    if applied:
        print(f"applied migrations {', '.join(map(str, applied))} to {queue.dsn}")
    else:
        print(f"{queue.dsn} is up to date")
    return 0


async def _status(queue: Queue, args: argparse.Namespace) -> int:
    stats = await queue.stats()
    if args.json:
        print(json.dumps(stats, indent=2, sort_keys=True))
        return 0
    statuses = ["queued", "running", "succeeded", "failed", "cancelled"]
    print(f"{'queue':24}" + "".join(f"{s:>11}" for s in statuses))
    for name in sorted(stats):
        print(f"{printable(name[:24]):24}" +
              "".join(f"{stats[name].get(s, 0):>11}" for s in statuses))
    if not stats:
        print("(no jobs)")
    return 0


async def _jobs(queue: Queue, args: argparse.Namespace) -> int:
    job_filter = JobFilter(statuses=tuple(args.status or ()), queues=tuple(args.queue or ()),
                           tasks=tuple(args.task or ()), limit=args.limit)
    jobs = await queue.list_jobs(job_filter)
    if args.json:
        print(json.dumps([_job_json(job) for job in jobs], indent=2))
    else:
        print(_format_jobs(jobs))
    return 0


async def _retry(queue: Queue, args: argparse.Namespace) -> int:
    code = 0
    for job_id in args.ids:
        if await queue.retry_job(job_id):
            print(f"{job_id}: queued again")
        else:
            info = await queue.get_job(job_id)
            why = "no such job" if info is None else f"it is {info.status.value}"
            print(f"{job_id}: not retried: {why} (only failed or cancelled jobs can be)",
                  file=sys.stderr)
            code = EXIT_ERROR
    return code


async def _cancel(queue: Queue, args: argparse.Namespace) -> int:
    code = 0
    for job_id in args.ids:
        status = await queue.cancel_job(job_id)
        if status is None:
            print(f"{job_id}: no such job", file=sys.stderr)
            code = EXIT_ERROR
        elif status == "running":
            print(f"{job_id}: running; its worker was asked to stop it")
        else:
            print(f"{job_id}: {status}")
    return code


async def _purge(queue: Queue, args: argparse.Namespace) -> int:
    statuses = args.status or ["succeeded", "failed", "cancelled"]
    try:
        count = await queue.purge(args.older_than, statuses, dry_run=args.dry_run,
                                  batch_size=args.batch_size)
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {count} {'/'.join(statuses)} jobs finished over {args.older_than:g}s ago")
    return 0


async def _pause(queue: Queue, args: argparse.Namespace) -> int:
    for name in args.queues:
        await queue.pause(name)
        print(f"{name}: paused (running jobs finish; enqueue still works)")
    return 0


async def _resume(queue: Queue, args: argparse.Namespace) -> int:
    for name in args.queues:
        await queue.resume(name)
        print(f"{name}: resumed")
    return 0


async def _queues(queue: Queue, args: argparse.Namespace) -> int:
    queues = await queue.queues()
    if args.json:
        print(json.dumps(queues, indent=2, sort_keys=True))
        return 0
    for name, state in queues.items():
        print(f"{printable(name[:32]):32}  {'paused' if state['paused'] else 'active':6}  "
              f"queued {state.get('queued', 0):>8}  running {state.get('running', 0):>6}")
    if not queues:
        print("(no queues)")
    return 0


async def _periodic(queue: Queue, args: argparse.Namespace) -> int:
    last = await queue.backend.last_ticks()
    now = datetime.now(UTC)
    rows: list[dict[str, str | None]] = [
        {"name": s.name, "task": s.task, "cron": s.cron, "timezone": s.timezone,
         "catch_up": s.catch_up,
         "last_tick": last[s.name].isoformat() if s.name in last else None,
         "next_tick": s.next_after(now).isoformat()} for s in queue.schedules]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("(no periodic schedules in this app)")
    for row in rows:
        print(f"{str(row['task'])[:40]:40}  {row['cron']!s:16}  {row['timezone']!s:16}  "
              f"next {row['next_tick']}  last {row['last_tick'] or '-'}")
    return 0


async def _workers(queue: Queue, args: argparse.Namespace) -> int:
    workers = await queue.workers()
    if args.json:
        rows = []
        for w in workers:
            row = {name: getattr(w, name) for name in w.__dataclass_fields__}
            rows.append({k: v.isoformat() if hasattr(v, "isoformat") else v
                         for k, v in row.items()})
        print(json.dumps(rows, indent=2))
        return 0
    if not workers:
        print("(no workers registered)")
        return 0
    print(f"{'worker':40}  {'status':8}  {'host':16}  {'pid':>7}  {'conc':>4}  "
          f"{'running':>7}  {'heartbeat (UTC)':19}  queues")
    for w in workers:
        # Rows of the registry are data like any other: escaped for the terminal.
        queues = printable(",".join(w.queues)) if w.queues else "*"
        print(f"{printable(w.name[:40]):40}  {printable(w.status[:8]):8}  "
              f"{printable(w.host[:16]):16}  {w.pid:>7}  "
              f"{w.concurrency:>4}  {len(w.running_jobs):>7}  "
              f"{w.heartbeat_at:%Y-%m-%d %H:%M:%S}  {queues}")
        for job_id in w.running_jobs[:args.jobs]:
            print(f"    {job_id}")
        if len(w.running_jobs) > args.jobs:
            print(f"    ... and {len(w.running_jobs) - args.jobs} more")
    return 0


async def _health(queue: Queue, args: argparse.Namespace) -> int:
    health = await queue.health(max_queued_age=args.max_queued_age,
                                min_workers=args.min_workers, lease_grace=args.lease_grace,
                                timeout=args.timeout)
    if args.json:
        print(json.dumps(health.as_dict(), indent=2))
        return health.exit_code
    print(f"aqueue health: {health.status}")
    for problem in health.problems:
        print(f"  problem      {printable(problem)}")
    current = health.schema_version == health.schema_wanted
    schema = f"{health.schema_version}{' (current)' if current else ''}"
    print(f"  database     {health.database}: "
          f"{'reachable, schema ' + schema if health.reachable else 'not reachable'}")
    if health.reachable and health.schema_version == health.schema_wanted:
        age = ("none due" if health.oldest_due_age is None else
               f"{health.oldest_due_age:.1f}s (queue {printable(str(health.oldest_due_queue))})")
        print(f"  oldest due   {age}; limit {args.max_queued_age:g}s")
        print(f"  jobs         {health.due} due, {health.running} running, "
              f"{health.expired_leases} with leases out over {args.lease_grace:g}s")
        print(f"  workers      {health.workers_alive} alive, {health.workers_dead} dead")
        if health.paused_queues:
            print(f"  paused       {printable(', '.join(health.paused_queues))}")
    return health.exit_code


async def _backup(queue: Queue, args: argparse.Namespace) -> int:
    from aqueue.backup import backup

    copied = await backup(queue, args.target)
    print(f"backed up {queue.dsn} to {args.target} ({copied:,} pages)")
    return 0


def _progress(verb: str, total: int | None) -> Callable[[Any], None] | None:
    """A one-line progress report on stderr, when stderr is a terminal."""
    if not sys.stderr.isatty():
        return None

    def report(tally: Any) -> None:
        done = tally.read
        share = f" ({done / total:.0%})" if total else ""
        print(f"\r{verb} {done:,}{f' / {total:,}' if total else ''} jobs{share}", end="",
              file=sys.stderr, flush=True)

    return report


def _summary(tally: Any, verb: str) -> int:
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"{verb} {tally.written:,} jobs; {tally.existing:,} already there (left alone)",
          file=sys.stderr)
    for problem in tally.bad_lines:
        print(f"  refused {printable(problem)}", file=sys.stderr)
    if tally.unreadable:
        print(f"  skipped {len(tally.unreadable)} jobs whose stored JSON is unreadable: "
              f"{', '.join(tally.unreadable[:5])}{' ...' if len(tally.unreadable) > 5 else ''}",
              file=sys.stderr)
    return EXIT_ERROR if tally.bad_lines or tally.unreadable else 0


async def _export(queue: Queue, args: argparse.Namespace) -> int:
    from aqueue.transfer import Tally, read_jobs

    tally = Tally()
    async for batch in read_jobs(queue, args.status or (), batch_size=args.batch_size,
                                 running_as_queued=args.running_as_queued, tally=tally):
        sys.stdout.write("".join(json_line(job) + "\n" for job in batch))
        tally.written += len(batch)
    sys.stdout.flush()
    print(f"exported {tally.written:,} jobs", file=sys.stderr)
    if tally.unreadable:
        return _summary(tally, "exported")
    return 0


async def _import(queue: Queue, args: argparse.Namespace) -> int:
    from aqueue.transfer import import_lines

    # Bytes, not text: a line that is not UTF-8 is reported, not fatal.
    try:
        # A command: nothing else runs on this loop while the file is read.
        source = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: ASYNC230
    except OSError as exc:
        raise StartupError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    try:
        tally = await import_lines(queue, source, batch_size=args.batch_size,
                                   strict=args.strict, progress=_progress("read", None))
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    if args.strict and tally.bad_lines:
        _summary(tally, "imported")
        print("nothing was imported (--strict)", file=sys.stderr)
        return EXIT_ERROR
    return _summary(tally, "imported")


async def _copy(_: Queue, args: argparse.Namespace) -> int:
    from aqueue.transfer import RunningJobs, copy, selected_count

    source, target = Queue(args.source), Queue(args.target)
    if source.dsn == target.dsn:
        raise StartupError("--from and --to are the same database")
    async with source, target:
        total, running = await selected_count(source, args.status or ())
        if running and not args.running_as_queued:
            raise StartupError(f"{running} jobs are running in {source.dsn}: stop the workers "
                               "first, or copy running jobs as queued (--running-as-queued)")
        await target.migrate()
        try:
            tally = await copy(source, target, args.status or (), batch_size=args.batch_size,
                               running_as_queued=args.running_as_queued,
                               progress=_progress("copied", total))
        except RunningJobs as exc:
            raise StartupError(str(exc)) from None
    return _summary(tally, f"copied {source.dsn} to {target.dsn}:")


async def _metrics(queue: Queue, args: argparse.Namespace) -> int:
    try:
        from aqueue.metrics import DepthCollector, DepthSampler, registry_with_process, serve
    except ImportError as exc:
        raise StartupError(f"needs the metrics extra: pip install 'aqueue[metrics]' ({exc})"
                           ) from None
    sampler = DepthSampler(queue, args.interval, take_turns=False)
    await sampler.sample()  # an unreachable database fails here, in one line
    registry = registry_with_process()
    registry.register(DepthCollector(sampler))
    try:
        server = serve(registry, args.port, args.host)
    except OSError as exc:
        raise StartupError(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}"
                           ) from None
    print(f"aqueue metrics: serving http://{args.host}:{args.port}/metrics for {queue.dsn}",
          file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sampling = asyncio.create_task(sampler.run())
    try:
        await stop.wait()
    finally:
        sampling.cancel()
        server.shutdown()
        server.server_close()
    return 0


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
    _add_log_arguments(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def admin(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--dsn", default=None,
                         help="database URL (default: $AQUEUE_DSN, else sqlite:///aqueue.db)")
        sub.set_defaults(handler=handler, opens=True)
        return sub

    admin("migrate", "create or upgrade aqueue's tables", _migrate)
    sub = admin("status", "job counts per queue and status", _status)
    sub.add_argument("--json", action="store_true")
    sub = admin("jobs", "list jobs, newest first", _jobs)
    sub.add_argument("--status", type=_csv)
    sub.add_argument("--queue", type=_csv)
    sub.add_argument("--task", type=_csv)
    sub.add_argument("--limit", type=int, default=50)
    sub.add_argument("--json", action="store_true")
    sub = admin("retry", "queue failed or cancelled jobs again", _retry)
    sub.add_argument("ids", nargs="+", metavar="ID")
    sub = admin("cancel", "cancel queued jobs, stop running ones", _cancel)
    sub.add_argument("ids", nargs="+", metavar="ID")
    sub = admin("purge", "delete old finished jobs, in batches", _purge)
    sub.add_argument("--older-than", type=parse_duration, required=True, metavar="AGE",
                     help="e.g. 7d, 12h, 30m")
    sub.add_argument("--status", type=_csv, help="default: succeeded,failed,cancelled")
    sub.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    sub.add_argument("--batch-size", type=int, default=1000)
    sub = admin("pause", "stop workers claiming these queues' jobs", _pause)
    sub.add_argument("queues", nargs="+", metavar="QUEUE")
    sub = admin("resume", "let workers claim these queues' jobs again", _resume)
    sub.add_argument("queues", nargs="+", metavar="QUEUE")
    sub = admin("queues", "every queue, paused or not, with its queued and running jobs",
                _queues)
    sub.add_argument("--json", action="store_true")
    sub = admin("periodic", "an app's periodic schedules: next and last ticks", _periodic)
    sub.add_argument("app", help="the Queue, as module:attribute (as aqueue-worker takes it)")
    sub.add_argument("--json", action="store_true")
    sub = admin("workers", "the workers registry: who runs, where, and which jobs", _workers)
    sub.add_argument("--json", action="store_true")
    sub.add_argument("--jobs", type=int, default=5, metavar="N",
                     help="running job ids shown per worker (default 5)")
    sub = admin("health", "check the database, schema, waiting jobs, leases and workers; "
                "exit 0 healthy, 1 unhealthy, 2 cannot tell", _health)
    sub.add_argument("--max-queued-age", type=parse_duration, default=300.0, metavar="SECONDS",
                     help="unhealthy when a due job has waited longer (default 300)")
    sub.add_argument("--min-workers", type=int, default=0, metavar="N",
                     help="unhealthy with fewer workers alive (default 0)")
    sub.add_argument("--lease-grace", type=parse_duration, default=60.0, metavar="SECONDS",
                     help="unhealthy when a running job's lease ran out longer ago (default 60)")
    sub.add_argument("--timeout", type=parse_duration, default=10.0, metavar="SECONDS",
                     help="cannot tell (exit 2) when the database takes longer (default 10)")
    sub.add_argument("--json", action="store_true")
    sub.set_defaults(opens=False)
    sub = admin("backup", "copy a SQLite database with SQLite's online backup, safe while "
                "workers run", _backup)
    sub.add_argument("target", help="the backup file to write (replaced if it exists)")
    sub.set_defaults(opens=False)
    sub = admin("export", "write jobs as JSON lines to stdout (portable, streaming)", _export)
    sub.add_argument("--status", type=_csv, help="default: every status")
    sub.add_argument("--batch-size", type=int, default=1000)
    sub.add_argument("--running-as-queued", action="store_true",
                     help="export running jobs as queued (by default they are refused)")
    sub = admin("import", "insert jobs from JSON lines (aqueue export's); existing ids are "
                "left alone", _import)
    sub.add_argument("file", nargs="?", default="-", help="the file (default: - for stdin)")
    sub.add_argument("--batch-size", type=int, default=1000)
    sub.add_argument("--strict", action="store_true",
                     help="import nothing unless every line is good (then all in one "
                          "transaction); by default refused lines are reported and the rest "
                          "go in")
    copy = commands.add_parser(
        "copy", help="copy jobs between two databases (any backends), ids and all",
        description="Copy jobs between two databases (any backends), ids and all. Running "
                    "it again copies only what is missing.")
    copy.add_argument("--from", dest="source", required=True, metavar="DSN")
    copy.add_argument("--to", dest="target", required=True, metavar="DSN")
    copy.add_argument("--status", type=_csv, help="default: every status")
    copy.add_argument("--batch-size", type=int, default=1000)
    copy.add_argument("--running-as-queued", action="store_true",
                      help="copy running jobs as queued (by default they are refused)")
    copy.set_defaults(handler=_copy, opens=False, dsn=None)
    sub = admin("metrics", "serve queue depths read from the database as Prometheus metrics "
                "(needs aqueue[metrics])", _metrics)
    sub.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default 127.0.0.1)")
    sub.add_argument("--port", type=int, default=9191)
    sub.add_argument("--interval", type=parse_duration, default=15.0, metavar="SECONDS",
                     help="seconds between reads of the database (default 15)")
    dashboard = commands.add_parser(
        "dashboard", help="serve the web dashboard and JSON API (needs aqueue[web])",
        description="Serve the web dashboard and JSON API. Actions need the token in "
                    "$AQUEUE_DASHBOARD_TOKEN (one is made and printed if unset).")
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
        return asyncio.run(_admin(args))
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
