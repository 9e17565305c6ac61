"""The dashboard as an attacker meets it, on each backend: no reads without the
token, a foreign Host refused, bodies cut off at the limit while they stream,
sessions per log-in that expire and end at log-out, guessing slowed down, and
no action on every job unless asked for by name."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import aqueue
from aqueue.records import JobFilter
from aqueue.web import create_app

TOKEN = "s3cret-token-for-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def client_of(app: Any, **options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=options.pop("base_url", "http://localhost"),
        **options,
    )


@pytest.fixture
async def job(queue: aqueue.Queue) -> str:
    @queue.task(name="secret")
    async def secret(card: str) -> str:
        return card

    return (await secret.enqueue("4111-1111-1111-1111")).id


def app_of(queue: aqueue.Queue, **options: Any) -> Any:
    app = create_app(queue, **{"token": TOKEN, **options})
    app.state.auth.throttle.pause = 0.0
    return app


async def test_nothing_is_read_without_the_token(queue: aqueue.Queue, job: str) -> None:
    """Regression: with a token configured, every read was open to anyone."""
    async with client_of(app_of(queue)) as anonymous:
        for path in ("/api/overview", "/api/jobs", f"/api/jobs/{job}", "/api/workers", "/metrics"):
            answer = await anonymous.get(path)
            assert answer.status_code == 401, (path, answer.text)
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert "4111" not in answer.text
        for path in ("/", "/jobs", f"/jobs/{job}", "/workers"):
            answer = await anonymous.get(path)
            assert answer.status_code == 303 and "4111" not in answer.text
            assert answer.headers["location"].startswith("/login?next=")
        assert (await anonymous.get("/login")).status_code == 200
        assert (await anonymous.get("/static/style.css")).status_code == 200
        assert (await anonymous.get(f"/api/jobs/{job}", headers=BEARER)).json()["args"] == [
            "4111-1111-1111-1111"
        ]


async def test_open_reads_are_an_explicit_choice(queue: aqueue.Queue, job: str) -> None:
    async with client_of(app_of(queue, public_reads=True)) as anonymous:
        assert (await anonymous.get(f"/api/jobs/{job}")).status_code == 200
        assert (await anonymous.post(f"/api/jobs/{job}/cancel")).status_code == 401
        assert (await anonymous.post(f"/api/jobs/{job}/cancel", headers=BEARER)).status_code == 200


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost", True),
        ("localhost:8520", True),
        ("127.0.0.1:8520", True),
        ("[::1]:8520", True),
        ("LOCALHOST", True),
        ("rebind.attacker.example", False),
        ("127.0.0.1.attacker.example", False),
        ("", False),
    ],
)
async def test_only_allowed_hosts_are_answered(
    queue: aqueue.Queue, job: str, host: str, allowed: bool
) -> None:
    """Regression: any Host was answered, so a page using DNS rebinding could
    read a dashboard on 127.0.0.1."""
    async with client_of(app_of(queue), headers=BEARER) as client:
        answer = await client.get(f"/api/jobs/{job}", headers={"Host": host})
        assert (answer.status_code == 200) == allowed, answer.text
        if not allowed:
            assert answer.status_code == 400 and "4111" not in answer.text


async def test_allowed_hosts_can_be_named(queue: aqueue.Queue, job: str) -> None:
    app = app_of(queue, allowed_hosts=["queue.example.com", "*.ops.example"])
    async with client_of(app, headers=BEARER) as client:
        for host, status in (
            ("queue.example.com", 200),
            ("a.ops.example", 200),
            ("ops.example", 400),
            ("localhost", 400),
        ):
            assert (
                await client.get("/api/overview", headers={"Host": host})
            ).status_code == status, host


class Stream:
    """A request body of ``chunks`` chunks, sent without a length, counting
    how many the app pulled before it answered."""

    def __init__(self, chunks: int, size: int = 16 * 1024) -> None:
        self.chunks, self.size, self.sent = chunks, size, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.sent += 1
            yield b"x" * self.size


@pytest.mark.parametrize("path", ["/api/jobs/cancel", "/login", "/logout"])
async def test_a_body_is_cut_off_at_the_limit_while_it_streams(
    queue: aqueue.Queue, path: str
) -> None:
    """Regression: the whole body was read into memory (300 MiB: +345 MB RSS)
    before the 64 KB check, and before the credentials were looked at."""
    async with client_of(app_of(queue), headers=BEARER) as client:
        body = Stream(chunks=20_000)  # 312 MiB if it were all read
        answer = await client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code in (401, 413), answer.text
        assert body.sent <= 6, body.sent  # 64 KB and a chunk, never the rest
        declared = await client.post(path, content=b"x" * 70_000)
        assert declared.status_code == 413


async def test_credentials_are_checked_before_the_body_is_read(queue: aqueue.Queue) -> None:
    async with client_of(app_of(queue)) as anonymous:
        body = Stream(chunks=3)
        answer = await anonymous.post("/api/jobs/cancel", content=body)
        assert answer.status_code == 401 and body.sent == 0


async def log_in(client: httpx.AsyncClient) -> tuple[str, str]:
    """Log in through the form; the session cookie and the page's CSRF token."""
    answer = await client.post("/login", data={"token": TOKEN, "next": "/"})
    assert answer.status_code == 303
    cookie = answer.cookies["aqueue_session"]
    page = (await client.get("/jobs")).text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return cookie, csrf


async def test_a_session_copied_before_log_out_is_dead_after_it(
    queue: aqueue.Queue, job: str
) -> None:
    """Regression: the cookie was a fixed HMAC of the token with no expiry."""
    app = app_of(queue)
    async with client_of(app) as first, client_of(app) as second:
        cookie, csrf = await log_in(first)
        answer = await first.post("/login", data={"token": TOKEN, "next": "/"})
        assert answer.cookies["aqueue_session"] != cookie  # one session per log-in
        first.cookies.clear()
        first.cookies.set("aqueue_session", cookie)
        second.cookies.set("aqueue_session", cookie)  # a copy
        assert (await second.get(f"/api/jobs/{job}")).status_code == 200
        assert (await first.post("/logout", data={"csrf": csrf})).status_code == 303
        assert (await second.get(f"/api/jobs/{job}")).status_code == 401
        assert (await second.get("/jobs")).status_code == 303


async def test_sessions_are_shared_by_every_process_of_a_dashboard(
    queue: aqueue.Queue, job: str
) -> None:
    """Two apps on one database (two server processes): a log-in on one works
    on the other, a log-out on one ends it on both; a new token ends it too."""
    one, two = app_of(queue), app_of(queue)
    async with client_of(one) as a, client_of(two) as b:
        cookie, csrf = await log_in(a)
        b.cookies.set("aqueue_session", cookie)
        assert (await b.get(f"/api/jobs/{job}")).status_code == 200
        async with client_of(app_of(queue, token="another-token-0123456")) as c:
            c.cookies.set("aqueue_session", cookie)
            assert (await c.get(f"/api/jobs/{job}")).status_code == 401
        assert (await b.post("/logout", data={"csrf": csrf})).status_code == 303
        assert (await a.get(f"/api/jobs/{job}")).status_code == 401


async def test_a_session_expires(queue: aqueue.Queue, job: str) -> None:
    async with client_of(app_of(queue, session_ttl=1.0)) as client:
        answer = await client.post("/login", data={"token": TOKEN, "next": "/"})
        set_cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=strict" in set_cookie
        assert "max-age=1" in set_cookie and TOKEN.lower() not in set_cookie
        assert (await client.get(f"/api/jobs/{job}")).status_code == 200
        deadline = time.monotonic() + 10
        while (await client.get(f"/api/jobs/{job}")).status_code == 200:
            assert time.monotonic() < deadline, "the session never expired"
        assert (await client.get(f"/api/jobs/{job}")).status_code == 401


async def test_failed_log_ins_slow_down_then_stop(queue: aqueue.Queue) -> None:
    app = create_app(queue, token=TOKEN)
    app.state.auth.throttle.pause = 0.2
    async with client_of(app) as client:
        began = time.monotonic()
        assert (await client.post("/login", data={"token": "guess"})).status_code == 401
        assert time.monotonic() - began >= 0.2  # answered only after the pause
        app.state.auth.throttle.pause = 0.0
        for _ in range(9):
            await client.post("/login", data={"token": "guess"})
        refused = await client.post("/login", data={"token": TOKEN})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert (await client.get("/api/overview", headers=BEARER)).status_code == 429
    async with client_of(
        app,
        headers={"Authorization": "Bearer wrong-wrong-wrong-wrong"},
        base_url="http://127.0.0.1",
    ) as other:
        # Wrong bearer tokens count too (the ASGI client's address is the same).
        assert (await other.get("/api/overview")).status_code == 429


async def test_an_action_on_every_job_is_asked_for_by_name(queue: aqueue.Queue, job: str) -> None:
    """Regression: POST /api/jobs/cancel with {} cancelled every job."""
    async with client_of(app_of(queue), headers=BEARER) as client:
        for body in ({}, {"queue": ""}, {"all": "false"}):
            answer = await client.post("/api/jobs/cancel", json=body)
            assert answer.status_code == 400 and "all=true" in answer.json()["error"]
        assert (await client.post("/api/jobs/retry", json={})).status_code == 400
        assert (await queue.get_job(job)).status == "queued"  # type: ignore[union-attr]
        every = await client.post("/api/jobs/cancel", json={"all": True})
        assert every.json() == {"action": "cancel", "count": 1, "filter": {}}
    with pytest.raises(ValueError, match="all_jobs=True"):
        await queue.jobs.cancel_matching(JobFilter())
    with pytest.raises(ValueError, match="all_jobs=True"):
        await queue.jobs.retry_matching(JobFilter())
    assert await queue.jobs.retry_matching(JobFilter(), all_jobs=True) == 1
