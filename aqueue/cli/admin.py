"""The admin commands of ``aqueue``: each reads or acts through the public API."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from aqueue import audit, validation
from aqueue.cli.worker import EXIT_ERROR, StartupError, load_app
from aqueue.escape import json_line, printable
from aqueue.queue import Queue
from aqueue.records import JobFilter, JobInfo
from aqueue.stop_signals import on_stop_signals


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


async def run_admin(args: argparse.Namespace) -> int:
    if getattr(args, "app", None):
        queue = load_app(args.app)
        if args.dsn or args.read_dsn:
            queue.use_dsn(args.dsn, read_dsn=args.read_dsn)
    else:
        # (copy has no --read-dsn: it names its databases with --from and --to)
        queue = Queue(args.dsn, read_dsn=getattr(args, "read_dsn", None))
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


async def migrate(queue: Queue, args: argparse.Namespace) -> int:
    applied = await queue.migrate()
    if applied:
        print(f"applied migrations {', '.join(map(str, applied))} to {queue.dsn}")
    else:
        print(f"{queue.dsn} is up to date")
    return 0


async def status(queue: Queue, args: argparse.Namespace) -> int:
    stats = {c.name: c.totals for c in await queue.jobs.counts(totals=True) if c.totals}
    if args.json:
        print(json.dumps(stats, indent=2, sort_keys=True))
        return 0
    statuses = ["queued", "running", "succeeded", "failed", "cancelled"]
    print(f"{'queue':24}" + "".join(f"{s:>11}" for s in statuses))
    for name in sorted(stats):
        print(
            f"{printable(name[:24]):24}"
            + "".join(f"{(stats[name] or {}).get(s, 0):>11}" for s in statuses)
        )
    if not stats:
        print("(no jobs)")
    return 0


async def jobs(queue: Queue, args: argparse.Namespace) -> int:
    job_filter = JobFilter(
        statuses=tuple(args.status or ()),
        queues=tuple(args.queue or ()),
        tasks=tuple(args.task or ()),
        tag=args.tag,
        args=tuple(validation.argument_search(a) for a in args.arg or ()),
        error_contains=args.error,
        limit=args.limit,
    )
    jobs = await queue.jobs.list(job_filter)
    if args.json:
        print(json.dumps([_job_json(job) for job in jobs], indent=2))
    else:
        print(_format_jobs(jobs))
    return 0


async def retry(queue: Queue, args: argparse.Namespace) -> int:
    code = 0
    for job_id in args.ids:
        if await queue.jobs.retry(job_id):
            audit.record("retry", f"job {job_id}", audit.command_user())
            print(f"{job_id}: queued again")
        else:
            info = await queue.get_job(job_id)
            why = "no such job" if info is None else f"it is {info.status.value}"
            print(
                f"{job_id}: not retried: {why} (only failed or cancelled jobs can be)",
                file=sys.stderr,
            )
            code = EXIT_ERROR
    return code


async def logs(queue: Queue, args: argparse.Namespace) -> int:
    outputs = await queue.jobs.output(args.job)
    if args.attempt is not None:
        outputs = [o for o in outputs if o.attempt == args.attempt]
    if args.json:
        for o in outputs:
            fields = {"attempt": o.attempt, "created_at": o.created_at, "cut": o.cut}
            print(json_line({**fields, "output": o.text}, default=str))
        return 0
    if not outputs:
        found = await queue.get_job(args.job) is not None
        kept = "no output kept (its task captures none, or it wrote none)"
        why = kept if found else "no such job"
        print(f"{printable(args.job)}: {why}", file=sys.stderr)
        return 0 if found else EXIT_ERROR
    for o in outputs:
        # What a task printed is not trusted with the terminal: escapes are shown, not run.
        cut = f", {o.cut} bytes cut" if o.cut else ""
        when = f"{o.created_at:%Y-%m-%d %H:%M:%S} UTC" if o.created_at else "?"
        print(f"--- attempt {o.attempt} (ended {when}{cut}) ---")
        text = printable(o.text, multiline=True)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


async def cancel(queue: Queue, args: argparse.Namespace) -> int:
    code = 0
    for job_id in args.ids:
        status = await queue.jobs.cancel(job_id)
        if status is not None:
            audit.record("cancel", f"job {job_id}", audit.command_user())
        if status is None:
            print(f"{job_id}: no such job", file=sys.stderr)
            code = EXIT_ERROR
        elif status == "running":
            print(f"{job_id}: running; its worker was asked to stop it")
        else:
            print(f"{job_id}: {status}")
    return code


async def purge(queue: Queue, args: argparse.Namespace) -> int:
    statuses = args.status or ["succeeded", "failed", "cancelled"]
    try:
        count = await queue.jobs.purge(
            args.older_than, statuses, dry_run=args.dry_run, batch_size=args.batch_size
        )
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    verb = "would delete" if args.dry_run else "deleted"
    if not args.dry_run:
        audit.record(
            "purge",
            f"{'/'.join(statuses)} jobs finished over {args.older_than:g}s ago",
            audit.command_user(),
            count,
        )
    print(f"{verb} {count} {'/'.join(statuses)} jobs finished over {args.older_than:g}s ago")
    return 0


async def pause(queue: Queue, args: argparse.Namespace) -> int:
    for name in args.queues:
        await queue.pause(name)
        audit.record("pause", f"queue {name!r}", audit.command_user())
        print(f"{name}: paused (running jobs finish; enqueue still works)")
    return 0


async def resume(queue: Queue, args: argparse.Namespace) -> int:
    for name in args.queues:
        await queue.resume(name)
        audit.record("resume", f"queue {name!r}", audit.command_user())
        print(f"{name}: resumed")
    return 0


async def queues(queue: Queue, args: argparse.Namespace) -> int:
    counted = await queue.jobs.counts()
    if args.json:
        print(
            json.dumps(
                {
                    c.name: {
                        "paused": c.paused,
                        "queued": c.queued,
                        "due": c.due,
                        "scheduled": c.scheduled,
                        "running": c.running,
                        "failed": c.failed,
                    }
                    for c in counted
                },
                indent=2,
                sort_keys=True,
            )
        )
        return 0
    for c in counted:
        print(
            f"{printable(c.name[:32]):32}  {'paused' if c.paused else 'active':6}  "
            f"queued {c.queued:>8}  running {c.running:>6}"
        )
    if not counted:
        print("(no queues)")
    return 0


async def periodic(queue: Queue, args: argparse.Namespace) -> int:
    from aqueue.periodic import schedule_states

    rows: list[dict[str, str | None]] = [
        {
            "name": s.name,
            "task": s.task,
            "cron": s.cron,
            "timezone": s.timezone,
            "catch_up": s.catch_up,
            "last_tick": s.last_tick.isoformat() if s.last_tick else None,
            "next_tick": s.next_tick.isoformat(),
        }
        for s in await schedule_states(queue)
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("(no periodic schedules in this app)")
    for row in rows:
        print(
            f"{str(row['task'])[:40]:40}  {row['cron']!s:16}  {row['timezone']!s:16}  "
            f"next {row['next_tick']}  last {row['last_tick'] or '-'}"
        )
    return 0


async def workers(queue: Queue, args: argparse.Namespace) -> int:
    workers = await queue.workers()
    if args.json:
        rows = []
        for w in workers:
            row = {name: getattr(w, name) for name in w.__dataclass_fields__}
            rows.append(
                {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}
            )
        print(json.dumps(rows, indent=2))
        return 0
    if not workers:
        print("(no workers registered)")
        return 0
    print(
        f"{'worker':40}  {'status':8}  {'host':16}  {'pid':>7}  {'conc':>4}  "
        f"{'running':>7}  {'heartbeat (UTC)':19}  queues"
    )
    for w in workers:
        # Rows of the registry are data like any other: escaped for the terminal.
        queues = printable(",".join(w.queues)) if w.queues else "*"
        print(
            f"{printable(w.name[:40]):40}  {printable(w.status[:8]):8}  "
            f"{printable(w.host[:16]):16}  {w.pid:>7}  "
            f"{w.concurrency:>4}  {len(w.running_jobs):>7}  "
            f"{w.heartbeat_at:%Y-%m-%d %H:%M:%S}  {queues}"
        )
        for job_id in w.running_jobs[: args.jobs]:
            print(f"    {job_id}")
        if len(w.running_jobs) > args.jobs:
            print(f"    ... and {len(w.running_jobs) - args.jobs} more")
    return 0


async def health(queue: Queue, args: argparse.Namespace) -> int:
    health = await queue.health(
        max_queued_age=args.max_queued_age,
        min_workers=args.min_workers,
        lease_grace=args.lease_grace,
        timeout=args.timeout,
        max_replica_lag=args.max_replica_lag,
    )
    if args.json:
        print(json.dumps(health.as_dict(), indent=2))
        return health.exit_code
    print(f"aqueue health: {health.status}")
    for problem in health.problems:
        print(f"  problem      {printable(problem)}")
    current = health.schema_version == health.schema_wanted
    schema = f"{health.schema_version}{' (current)' if current else ''}"
    print(
        f"  database     {health.database}: "
        f"{'reachable, schema ' + schema if health.reachable else 'not reachable'}"
    )
    if health.reachable and health.schema_version == health.schema_wanted:
        age = (
            "none due"
            if health.oldest_due_age is None
            else f"{health.oldest_due_age:.1f}s (queue {printable(str(health.oldest_due_queue))})"
        )
        print(f"  oldest due   {age}; limit {args.max_queued_age:g}s")
        print(
            f"  jobs         {health.due} due, {health.running} running, "
            f"{health.expired_leases} with leases out over {args.lease_grace:g}s"
        )
        print(f"  workers      {health.workers_alive} alive, {health.workers_dead} dead")
        if health.read_database is not None:
            lag = "unknown" if health.replica_lag is None else f"{health.replica_lag:.1f}s"
            print(f"  replica      {health.read_database}: {lag} behind")
        if health.paused_queues:
            print(f"  paused       {printable(', '.join(health.paused_queues))}")
    return health.exit_code


async def backup(queue: Queue, args: argparse.Namespace) -> int:
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
        print(
            f"\r{verb} {done:,}{f' / {total:,}' if total else ''} jobs{share}",
            end="",
            file=sys.stderr,
            flush=True,
        )

    return report


def _summary(tally: Any, verb: str) -> int:
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(
        f"{verb} {tally.written:,} jobs; {tally.existing:,} already there (left alone)",
        file=sys.stderr,
    )
    for problem in tally.bad_lines:
        print(f"  refused {printable(problem)}", file=sys.stderr)
    if tally.unreadable:
        print(
            f"  skipped {len(tally.unreadable)} jobs whose stored JSON is unreadable: "
            f"{', '.join(tally.unreadable[:5])}{' ...' if len(tally.unreadable) > 5 else ''}",
            file=sys.stderr,
        )
    return EXIT_ERROR if tally.bad_lines or tally.unreadable else 0


async def export_jobs(queue: Queue, args: argparse.Namespace) -> int:
    from aqueue.transfer import Tally, read_jobs

    tally = Tally()
    async for batch in read_jobs(
        queue,
        args.status or (),
        batch_size=args.batch_size,
        running_as_queued=args.running_as_queued,
        tally=tally,
    ):
        sys.stdout.write("".join(json_line(job) + "\n" for job in batch))
        tally.written += len(batch)
    sys.stdout.flush()
    print(f"exported {tally.written:,} jobs", file=sys.stderr)
    if tally.unreadable:
        return _summary(tally, "exported")
    return 0


async def import_jobs(queue: Queue, args: argparse.Namespace) -> int:
    from aqueue.transfer import import_lines

    # Bytes, not text: a line that is not UTF-8 is reported, not fatal.
    try:
        # A command: nothing else runs on this loop while the file is read.
        source = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: ASYNC230
    except OSError as exc:
        raise StartupError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    try:
        tally = await import_lines(
            queue,
            source,
            batch_size=args.batch_size,
            strict=args.strict,
            progress=_progress("read", None),
        )
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    if args.strict and tally.bad_lines:
        _summary(tally, "imported")
        print("nothing was imported (--strict)", file=sys.stderr)
        return EXIT_ERROR
    return _summary(tally, "imported")


async def copy_jobs(_: Queue, args: argparse.Namespace) -> int:
    from aqueue.transfer import RunningJobs, copy, selected_count

    source, target = Queue(args.source), Queue(args.target)
    if source.dsn == target.dsn:
        raise StartupError("--from and --to are the same database")
    async with source, target:
        total, running = await selected_count(source, args.status or ())
        if running and not args.running_as_queued:
            raise StartupError(
                f"{running} jobs are running in {source.dsn}: stop the workers "
                "first, or copy running jobs as queued (--running-as-queued)"
            )
        await target.migrate()
        try:
            tally = await copy(
                source,
                target,
                args.status or (),
                batch_size=args.batch_size,
                running_as_queued=args.running_as_queued,
                progress=_progress("copied", total),
            )
        except RunningJobs as exc:
            raise StartupError(str(exc)) from None
    return _summary(tally, f"copied {source.dsn} to {target.dsn}:")


async def metrics(queue: Queue, args: argparse.Namespace) -> int:
    try:
        from aqueue.metrics import DepthCollector, DepthSampler, registry_with_process, serve
    except ImportError as exc:
        raise StartupError(
            f"needs the metrics extra: pip install 'aqueue[metrics]' ({exc})"
        ) from None
    sampler = DepthSampler.of(queue, args.interval)
    await sampler.sample()  # an unreachable database fails here, in one line
    registry = registry_with_process()
    registry.register(DepthCollector(sampler))
    try:
        server = serve(registry, args.port, args.host)
    except OSError as exc:
        raise StartupError(
            f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}"
        ) from None
    print(
        f"aqueue metrics: serving http://{args.host}:{args.port}/metrics for {queue.dsn}",
        file=sys.stderr,
        flush=True,
    )
    stop = asyncio.Event()
    on_stop_signals(asyncio.get_running_loop(), stop.set)
    sampler.start()
    try:
        await stop.wait()
    finally:
        await sampler.stop()
        server.shutdown()
        server.server_close()
    return 0
