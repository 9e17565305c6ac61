"""Run Debian's PgBouncer in transaction pooling mode in front of the test server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from aqueue.dsn import parse

_CONFIG = """\
[databases]
* = host={host} port={port} user={user}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = any
pool_mode = transaction
; Fewer server sessions than clients: consecutive statements of one client
; really do reach different sessions.
default_pool_size = {pool}
max_client_conn = 1000
logfile = {dir}/pgbouncer.log
pidfile = {dir}/pgbouncer.pid
"""


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(p)), None
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgBouncer:
    """A PgBouncer process; ``dsn(database)`` reaches the server through it."""

    def __init__(self, server_dsn: str, pool: int = 4) -> None:
        binary = pgbouncer_binary()
        if binary is None:
            raise FileNotFoundError("pgbouncer is not installed (apt-get install pgbouncer)")
        server = parse(server_dsn)
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="aqueue-pgbouncer-"))
        self.dir.chmod(0o777)  # it drops to the postgres user when started as root
        config = self.dir / "pgbouncer.ini"
        config.write_text(
            _CONFIG.format(
                host=server.host or "127.0.0.1",
                port=server.port or 5432,
                user=server.user or "postgres",
                listen=self.port,
                pool=pool,
                dir=self.dir,
            )
        )
        config.chmod(0o644)
        # PgBouncer refuses to run as root; -u switches to the server's user.
        user = ["-u", "postgres"] if os.geteuid() == 0 else []
        self.proc = subprocess.Popen(
            [binary, *user, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"pgbouncer did not start: {self.log()}") from None
                time.sleep(0.05)

    def log(self) -> str:
        path = self.dir / "pgbouncer.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def dsn(self, database: str, user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)
