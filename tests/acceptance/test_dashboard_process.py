"""A real ``aqueue dashboard`` process, tried as an attacker would: a huge body
sent without a length, a foreign Host, an open dashboard on the network."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.helpers import ADMIN, ROOT, admin

TOKEN = "process-dashboard-token-0123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    log = open(tmp_path / "dashboard.log", "wb")
    proc = subprocess.Popen(
        [ADMIN, "dashboard", "--dsn", f"sqlite:///{tmp_path / 'aqueue.db'}", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "AQUEUE_DASHBOARD_TOKEN": TOKEN},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "dashboard.log").read_text()) from None
            time.sleep(0.1)
    try:
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_a_huge_body_without_a_length_does_not_grow_the_process(
    dashboard: tuple[subprocess.Popen[bytes], int],
) -> None:
    """Regression: an anonymous 300 MiB POST took the process from 35 to 380 MB."""
    proc, port = dashboard
    before = _rss_kb(proc.pid)
    chunk = b"x" * 65536
    sent = 0
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(
            b"POST /login HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        try:
            while sent < 300 * 1024 * 1024:
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except OSError:
            pass  # the server answered and closed: it stopped reading
        conn.settimeout(5)
        try:
            answer = conn.recv(4096)
        except OSError:
            answer = b""
    grown = _rss_kb(proc.pid) - before
    assert grown < 20_000, f"the dashboard grew by {grown} KB"
    assert answer == b"" or b" 413 " in answer.split(b"\r\n", 1)[0], answer[:200]
    assert proc.poll() is None


def test_a_foreign_host_is_refused(dashboard: tuple[subprocess.Popen[bytes], int]) -> None:
    _, port = dashboard
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/overview",
        headers={"Host": "rebind.attacker.example", "Authorization": f"Bearer {TOKEN}"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 400
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/overview", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert urllib.request.urlopen(request, timeout=5).status == 200


def test_an_open_dashboard_is_not_served_to_the_network_by_accident(tmp_path: Path) -> None:
    refused = admin(
        "dashboard",
        "--dsn",
        f"sqlite:///{tmp_path / 'a.db'}",
        "--public-reads",
        "--host",
        "0.0.0.0",
        "--port",
        str(_free_port()),
        timeout=30,
    )
    assert refused.returncode == 2
    assert "--allow-public-on-network" in refused.stderr
