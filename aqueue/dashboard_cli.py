"""``aqueue dashboard``: serve the dashboard with uvicorn.

Kept out of ``aqueue.web`` so that the CLI (and the worker) import nothing of
the web extra until the dashboard is run.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys

from aqueue.errors import ConfigurationError

TOKEN_ENV = "AQUEUE_DASHBOARD_TOKEN"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dsn", default=None, help="database URL (default: $AQUEUE_DSN, else sqlite:///aqueue.db)"
    )
    parser.add_argument(
        "--read-dsn",
        default=None,
        help="a read replica for the pages' lists, counts and charts (default $AQUEUE_READ_DSN)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    parser.add_argument("--port", type=int, default=8520)
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="no actions at all (the token is still asked for, to read)",
    )
    parser.add_argument(
        "--public-reads",
        action="store_true",
        help="let anyone who reaches the dashboard read it without the token "
        "(job arguments, results and errors included); actions still need "
        "the token. With --read-only: no token at all",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=None,
        metavar="NAME",
        help="a host name the dashboard answers to (repeatable; "
        "'*.example.com'; default: localhost, 127.0.0.1, ::1 and the "
        "--host address)",
    )
    parser.add_argument(
        "--allow-public-on-network",
        action="store_true",
        help="with --public-reads, serve on an address other machines reach "
        "(refused without it: no credential would guard the data)",
    )
    parser.add_argument(
        "--root-path", default="", help="the path prefix a reverse proxy serves the dashboard under"
    )


_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_ANY_ADDRESS = ("0.0.0.0", "::", "")


def _hosts(args: argparse.Namespace) -> list[str] | None:
    """The allowed hosts: those given, else the loopback names and a specific
    address the dashboard is bound to."""
    if args.allowed_host:
        return list(args.allowed_host)
    hosts = ["localhost", "127.0.0.1", "::1"]
    if args.host not in _ANY_ADDRESS and args.host not in hosts:
        hosts.append(args.host)
    return hosts


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted. The token comes from $AQUEUE_DASHBOARD_TOKEN
    (never the command line, where other users' ``ps`` would see it); without
    one, a random token is made and printed once on stderr."""
    try:
        import uvicorn

        from aqueue.queue import Queue
        from aqueue.web import create_app
    except ImportError as exc:
        print(
            f"aqueue dashboard: needs the web extra: pip install 'aqueue[web]' ({exc})",
            file=sys.stderr,
        )
        return 2
    if args.public_reads and args.host not in _LOOPBACK and not args.allow_public_on_network:
        print(
            f"aqueue dashboard: error: --public-reads on {args.host or 'every address'} "
            "would show job data to anyone on the network without a credential; add "
            "--allow-public-on-network if that is meant",
            file=sys.stderr,
        )
        return 2
    token = os.environ.get(TOKEN_ENV) or None
    if token is None and not (args.read_only and args.public_reads):
        token = secrets.token_urlsafe(24)
        print(
            f"aqueue dashboard: log in with this token (set {TOKEN_ENV} to choose "
            f"your own): {token}",
            file=sys.stderr,
            flush=True,
        )
    try:
        # A queue of its own with a replica (left to the process's exit to close).
        queue = Queue(args.dsn, read_dsn=args.read_dsn) if args.read_dsn else args.dsn
        app = create_app(
            queue,
            token=token,
            read_only=args.read_only,
            public_reads=args.public_reads,
            allowed_hosts=_hosts(args),
        )
    except ConfigurationError as exc:
        print(f"aqueue dashboard: error: {exc}", file=sys.stderr)
        return 2
    where = f"http://{args.host}:{args.port}{args.root_path}/"
    mode = [
        m for m, on in (("read-only", args.read_only), ("public reads", args.public_reads)) if on
    ]
    note = f" ({', '.join(mode)})" if mode else ""
    print(f"aqueue dashboard: serving {where}{note}", file=sys.stderr, flush=True)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        root_path=args.root_path,
        log_level="warning",
        proxy_headers=True,
    )
    return 0
