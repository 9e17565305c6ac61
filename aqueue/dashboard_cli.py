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
    parser.add_argument("--dsn", default=None,
                        help="database URL (default: $AQUEUE_DSN, else sqlite:///aqueue.db)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8520)
    parser.add_argument("--read-only", action="store_true",
                        help="no actions at all (no token needed)")
    parser.add_argument("--root-path", default="",
                        help="the path prefix a reverse proxy serves the dashboard under")


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted. The token comes from $AQUEUE_DASHBOARD_TOKEN
    (never the command line, where other users' ``ps`` would see it); without
    one, a random token is made and printed once on stderr."""
    try:
        import uvicorn

        from aqueue.web import create_app
    except ImportError as exc:
        print(f"aqueue dashboard: needs the web extra: pip install 'aqueue[web]' ({exc})",
              file=sys.stderr)
        return 2
    token = None
    if not args.read_only:
        token = os.environ.get(TOKEN_ENV) or None
        if token is None:
            token = secrets.token_urlsafe(24)
            print(f"aqueue dashboard: log in with this token (set {TOKEN_ENV} to choose "
                  f"your own): {token}", file=sys.stderr, flush=True)
    try:
        app = create_app(args.dsn, token=token, read_only=args.read_only)
    except ConfigurationError as exc:
        print(f"aqueue dashboard: error: {exc}", file=sys.stderr)
        return 2
    where = f"http://{args.host}:{args.port}{args.root_path}/"
    print(f"aqueue dashboard: serving {where}"
          f"{' (read-only)' if args.read_only else ''}", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, root_path=args.root_path,
                log_level="warning", proxy_headers=True)
    return 0
