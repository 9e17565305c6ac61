"""The dashboard's JSON API and pages through an ASGI client, on each backend:
reads, actions, the token and CSRF rules, bad input (4xx, never 500), escaping."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

import aqueue
from aqueue.errors import ConfigurationError
from aqueue.web import create_app

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
async def jobs(queue: aqueue.Queue) -> dict[str, str]:
    @queue.task(name="ok")
    async def ok(value: object) -> object:
        return value

    @queue.task(name="boom", max_attempts=1)
    async def boom() -> None:
        raise ValueError("it broke <b>here</b>")

    made = {
        "ok": (await ok.using(queue="mail").enqueue("<script>alert(1)</script>")).id,
        "failed": (await boom.using(queue="web").enqueue()).id,
    }
    await queue.process(10)
    made["queued"] = (await ok.using(queue="web").enqueue(1)).id
    return made


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def dashboard(queue: aqueue.Queue, **options: Any) -> Any:
    """The app, with failed log-ins answered at once (their pause is tested apart)."""
    app = create_app(queue, **{"token": TOKEN, **options})
    app.state.auth.throttle.pause = 0.0
    return app


@pytest.fixture
async def client(queue: aqueue.Queue) -> AsyncIterator[httpx.AsyncClient]:
    """An API client holding the token."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=dashboard(queue)),
        base_url="http://localhost",
        headers=bearer(),
    ) as c:
        yield c


@pytest.fixture
async def browser(queue: aqueue.Queue) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no credential but what it logs in for (a cookie)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=dashboard(queue)), base_url="http://localhost"
    ) as c:
        yield c


async def test_reads(client: httpx.AsyncClient, jobs: dict[str, str]) -> None:
    overview = (await client.get("/api/overview")).json()["queues"]
    web = next(q for q in overview if q["name"] == "web")
    assert (web["due"], web["failed"], web["last_5_minutes"]["failed"]) == (1, 1, 1)
    assert web["last_5_minutes"]["failure_rate"] == 1.0
    listed = (await client.get("/api/jobs", params={"queue": "web"})).json()
    assert [j["id"] for j in listed["jobs"]] == [jobs["queued"], jobs["failed"]]
    assert listed["older"] is None and listed["newer"] is None
    failed = (await client.get(f"/api/jobs/{jobs['failed']}")).json()
    assert failed["status"] == "failed" and "ValueError" in failed["error"]["traceback"]
    assert (await client.get("/api/workers")).json() == {"workers": []}


async def test_pages_follow_their_cursors(client: httpx.AsyncClient, jobs: dict[str, str]) -> None:
    first = (await client.get("/api/jobs", params={"limit": 1})).json()
    assert [j["id"] for j in first["jobs"]] == [jobs["queued"]] and first["newer"] is None
    second = (await client.get("/api/jobs", params={"limit": 1, "before": first["older"]})).json()
    assert [j["id"] for j in second["jobs"]] == [jobs["failed"]]
    back = (await client.get("/api/jobs", params={"limit": 1, "after": second["newer"]})).json()
    assert [j["id"] for j in back["jobs"]] == [jobs["queued"]] and back["newer"] is None


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/jobs?status=bogus", 400),
        ("/api/jobs?limit=100000000", 400),
        ("/api/jobs?limit=-1", 400),
        ("/api/jobs?limit=ten", 400),
        ("/api/jobs?before=nope", 400),
        ("/api/jobs?id=zz", 400),
        ("/api/jobs?queue=%00", 400),
        ("/api/flow?range=week", 400),
        ("/api/flow?queue=" + "q" * 300, 400),
        ("/?range=%3Cscript%3E", 400),
        ("/api/jobs/not-a-uuid", 404),
        ("/api/jobs/0193a1b2-0000-7000-8000-000000000000", 404),
        ("/jobs?status=bogus", 400),
        ("/jobs/%3Cscript%3E", 404),
        ("/nowhere", 404),
        ("/api/jobs/0193a1b2-0000-7000-8000-000000000000/retry", 405),
    ],
)
async def test_bad_reads_are_4xx(client: httpx.AsyncClient, path: str, status: int) -> None:
    response = await client.get(path)
    assert response.status_code == status, response.text
    if path.startswith("/api/"):
        assert "error" in response.json() or status == 405


async def test_actions_need_the_token(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, jobs: dict[str, str]
) -> None:
    path = f"/api/jobs/{jobs['failed']}/retry"
    assert (await browser.post(path)).status_code == 401
    assert (await client.post(path, headers=bearer("wrong-token-xxxxx"))).status_code == 401
    response = await client.post(path, headers=bearer())
    assert response.status_code == 200 and response.json()["status"] == "queued"
    # Retrying it again: it is queued now, not failed.
    assert (await client.post(path, headers=bearer())).status_code == 409
    cancel = await client.post(f"/api/jobs/{jobs['failed']}/cancel", headers=bearer())
    assert cancel.json()["status"] == "cancelled"
    assert (
        await client.post(f"/api/jobs/{jobs['ok']}/cancel", headers=bearer())
    ).status_code == 409
    gone = await client.post(f"/api/jobs/{jobs['ok']}/delete", headers=bearer())
    assert gone.json() == {"id": jobs["ok"], "deleted": True, "status": "succeeded"}
    assert (await client.get(f"/api/jobs/{jobs['ok']}")).status_code == 404
    assert (await client.post("/api/jobs/nope/delete", headers=bearer())).status_code == 404


async def test_bulk_actions_and_pause(
    client: httpx.AsyncClient, queue: aqueue.Queue, jobs: dict[str, str]
) -> None:
    retried = await client.post("/api/jobs/retry", json={"queue": "web"}, headers=bearer())
    assert retried.json()["count"] == 1
    assert (
        await client.post("/api/jobs/cancel", json={"status": "nope"}, headers=bearer())
    ).status_code == 400
    assert (
        await client.post(
            "/api/jobs/cancel",
            content=b"{not json",
            headers={**bearer(), "Content-Type": "application/json"},
        )
    ).status_code == 400
    paused = await client.post("/api/queues/web/pause", headers=bearer())
    assert paused.json() == {"queue": "web", "paused": True}
    assert await queue.paused() == ["web"]
    odd = "a/b ?#<q>"
    assert (
        await client.post(f"/api/queues/{quote(odd)}/pause", headers=bearer())
    ).status_code == 200
    assert sorted(await queue.paused()) == [odd, "web"]
    await client.post("/api/queues/web/resume", headers=bearer())
    assert await queue.paused() == [odd]
    cancelled = await client.post("/api/jobs/cancel", json={"queue": "web"}, headers=bearer())
    assert cancelled.json()["count"] == 2


async def test_the_pages_log_in_and_post_with_csrf(
    browser: httpx.AsyncClient,
    queue: aqueue.Queue,
    jobs: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = browser
    page = await client.get(f"/jobs/{jobs['failed']}")
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
    bad = await client.post("/login", data={"token": "wrong-token", "next": "/"})
    assert bad.status_code == 401 and "session" not in str(bad.cookies)
    login = await client.post("/login", data={"token": TOKEN, "next": f"/jobs/{jobs['failed']}"})
    assert login.status_code == 303 and login.headers["location"] == f"/jobs/{jobs['failed']}"
    assert TOKEN not in login.headers["set-cookie"]
    page = await client.get(f"/jobs/{jobs['failed']}")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert csrf and 'class="retry"' in page.text
    action = f"/api/jobs/{jobs['failed']}/retry"
    # The session cookie alone is not enough: a cross-site form has no CSRF token.
    assert (await client.post(action, data={"next": "/"})).status_code == 403
    assert (await client.post(action, data={"csrf": "0" * 64})).status_code == 403
    with caplog.at_level(logging.INFO, logger="aqueue.audit"):
        done = await client.post(
            action, data={"csrf": csrf.group(1), "next": f"/jobs/{jobs['failed']}"}
        )
    assert done.status_code == 303 and done.headers["location"] == f"/jobs/{jobs['failed']}"
    assert f"retry job {jobs['failed']} by logged-in session" in caplog.text
    assert TOKEN not in caplog.text
    assert (await queue.get_job(jobs["failed"])).status == "queued"  # type: ignore[union-attr]
    # An open redirect is refused: the answer is JSON, not a redirect off-site.
    again = await client.post(
        f"/api/jobs/{jobs['queued']}/cancel",
        data={"csrf": csrf.group(1), "next": "//evil.example/"},
    )
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    out = await client.post("/logout", data={"csrf": csrf.group(1)})
    assert out.status_code == 303
    assert (await client.post(action, data={"csrf": csrf.group(1)})).status_code == 401


async def test_arguments_and_errors_are_escaped(
    client: httpx.AsyncClient, jobs: dict[str, str]
) -> None:
    page = (await client.get(f"/jobs/{jobs['ok']}")).text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    failed = (await client.get(f"/jobs/{jobs['failed']}")).text
    assert "it broke &lt;b&gt;here&lt;/b&gt;" in failed and "<b>here</b>" not in failed
    headers = (await client.get("/")).headers
    assert "script-src 'self'" in headers["content-security-policy"]


async def test_read_only_refuses_every_action(queue: aqueue.Queue, jobs: dict[str, str]) -> None:
    # Open reads without a token (an explicit choice): no actions at all.
    app = create_app(queue, public_reads=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost"
    ) as client:
        assert (await client.get("/")).status_code == 200
        response = await client.post(f"/api/jobs/{jobs['failed']}/retry", headers=bearer())
        assert response.status_code == 403
        assert (await client.post("/login", data={"token": TOKEN})).status_code == 403
    # A token and read_only: the token is asked for to read; still no actions.
    app = dashboard(queue, read_only=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost"
    ) as client:
        assert (await client.get("/api/overview")).status_code == 401
        assert (await client.get("/api/overview", headers=bearer())).status_code == 200
        response = await client.post(f"/api/jobs/{jobs['failed']}/retry", headers=bearer())
        assert response.status_code == 403


async def test_mounted_under_a_prefix(queue: aqueue.Queue, jobs: dict[str, str]) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    outer = Starlette(routes=[Mount("/ops/queue", dashboard(queue))])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=outer), base_url="http://localhost", headers=bearer()
    ) as client:
        page = await client.get("/ops/queue/jobs")
        assert page.status_code == 200
        assert 'href="/ops/queue/jobs/' in page.text
        assert 'href="/ops/queue/static/style.css"' in page.text
        assert (await client.get("/ops/queue/static/app.js")).status_code == 200
        assert (await client.get(f"/ops/queue/api/jobs/{jobs['ok']}")).json()["queue"] == "mail"


def test_a_token_is_required_unless_reads_are_opened_on_purpose() -> None:
    with pytest.raises(ConfigurationError, match="public_reads"):
        create_app("sqlite:///unused.db")
    with pytest.raises(ConfigurationError, match="16 characters"):
        create_app("sqlite:///unused.db", token="only-15-chars!!")
    with pytest.raises(ConfigurationError, match="host"):
        create_app("sqlite:///unused.db", token=TOKEN, allowed_hosts=["exa*mple.com"])


async def test_served_under_a_root_path_by_a_plain_asgi_router(
    queue: aqueue.Queue, jobs: dict[str, str]
) -> None:
    """As docs/dashboard.md routes it beside Django's ASGI app."""
    app = dashboard(queue)

    async def other(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def application(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/ops/queue"):
            await app({**scope, "root_path": "/ops/queue"}, receive, send)
            return
        await other(scope, receive, send)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application),
        base_url="http://localhost",
        headers=bearer(),
    ) as client:
        assert (await client.get("/elsewhere")).status_code == 204
        page = await client.get(f"/ops/queue/jobs/{jobs['failed']}")
        assert page.status_code == 200 and 'href="/ops/queue/static/app.js"' not in page.text
        assert 'src="/ops/queue/static/app.js"' in page.text
        assert (await client.get("/ops/queue/api/overview")).status_code == 200


async def test_the_timeline_shows_every_attempt(
    client: httpx.AsyncClient, queue: aqueue.Queue
) -> None:
    tries = 0

    @queue.task(name="twice", max_attempts=2, backoff=aqueue.Backoff(base=0, jitter=0))
    async def twice() -> None:
        nonlocal tries
        tries += 1
        if tries == 1:
            raise KeyError("<i>first</i>")

    job = await twice.enqueue()
    await queue.process(1)
    await queue.process(1)
    detail = (await client.get(f"/api/jobs/{job.id}")).json()
    assert [(a["attempt"], a["outcome"], a["error"]) for a in detail["history"]] == [
        (1, "retried", "KeyError")
    ]
    assert detail["history"][0]["started_at"] <= detail["history"][0]["ended_at"]
    page = (await client.get(f"/jobs/{job.id}")).text
    timeline = page[page.index('<ol class="timeline">') : page.index("</ol>")]
    steps = re.findall(r"</time> ([^<]*)</li>", timeline)
    assert [s.split(" after ")[0] for s in steps] == [
        "created",
        "attempt 1 started",
        "attempt 1 retried",
        "due again",
        "attempt 2 started",
        "succeeded",
    ]
    assert "&lt;i&gt;first&lt;/i&gt;" in timeline and "<i>" not in timeline


async def test_metrics_share_the_workers_depth_gauges(
    client: httpx.AsyncClient, jobs: dict[str, str]
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(response.text)
        for s in f.samples
    }
    assert samples[("aqueue_queue_jobs", (("queue", "web"), ("state", "due")))] == 1
    assert samples[("aqueue_queue_jobs", (("queue", "web"), ("state", "failed")))] == 1
    assert (await client.post("/metrics")).status_code == 405


async def test_a_job_waiting_for_parents_names_them(
    client: httpx.AsyncClient, queue: aqueue.Queue
) -> None:
    """Regression: a child showed "9999-01-01 … due" (its placeholder due time)
    and the API had no fields for its parents."""

    @queue.task(name="step")
    async def step() -> None:
        return None

    parent = await step.using(delay=3600).enqueue()
    child = await step.using(after=[parent]).enqueue()
    detail = (await client.get(f"/api/jobs/{child.id}")).json()
    assert detail["scheduled_at"] is None and detail["waiting_for_parents"] == 1
    assert detail["depends_on"] == [parent.id] and detail["waiting_for"] == [parent.id]
    row = next(j for j in (await client.get("/api/jobs")).json()["jobs"] if j["id"] == child.id)
    assert row["scheduled_at"] is None and row["waiting_for_parents"] == 1
    page = (await client.get(f"/jobs/{child.id}")).text
    assert "9999-01-01" not in page and parent.id in page and "when 1 more parent ends" in page
    plain = (await client.get(f"/api/jobs/{parent.id}")).json()
    assert plain["waiting_for_parents"] is None and plain["depends_on"] == []


async def test_captured_output_is_served_escaped_and_behind_the_token(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, queue: aqueue.Queue
) -> None:
    @queue.task(name="talks", capture_output=True)
    def talks() -> None:
        print("<script>alert('out')</script>")
        logging.getLogger("tests.web").warning("logged \x1b[31m red")

    @queue.task(name="quiet")
    def quiet() -> None:
        print("not kept")

    job = await talks.enqueue()
    await queue.process(1)
    response = await client.get(f"/api/jobs/{job.id}/output")
    assert response.status_code == 200
    [attempt] = response.json()["attempts"]
    assert attempt["attempt"] == 1 and attempt["cut"] == 0
    assert attempt["output"].startswith("<script>alert('out')</script>\n")
    assert "WARNING tests.web: logged \x1b[31m red" in attempt["output"]
    page = (await client.get(f"/jobs/{job.id}")).text
    assert "&lt;script&gt;alert(&#39;out&#39;)&lt;/script&gt;" in page
    assert "<script>alert(" not in page
    assert (await browser.get(f"/api/jobs/{job.id}/output")).status_code == 401
    missing = await client.get("/api/jobs/0193a1b2-0000-7000-8000-000000000000/output")
    assert missing.status_code == 404 and "error" in missing.json()
    assert (await client.get("/api/jobs/%00/output")).status_code in (400, 404)
    silent = await quiet.enqueue()  # a task that does not capture: no attempts listed
    await queue.process(1)
    assert (await client.get(f"/api/jobs/{silent.id}/output")).json()["attempts"] == []


async def test_durable_steps_are_served_escaped(
    client: httpx.AsyncClient, queue: aqueue.Queue
) -> None:
    @queue.task(name="stepped", takes_context=True)
    async def stepped(ctx: aqueue.JobContext) -> None:
        await ctx.step("fetch <b>", lambda: {"html": "<script>x()</script>"})

    job = await stepped.enqueue()
    await queue.process(1)
    response = await client.get(f"/api/jobs/{job.id}/steps")
    assert response.status_code == 200
    [step] = response.json()["steps"]
    assert (step["name"], step["attempt"]) == ("fetch <b>", 1)
    assert step["result"] == {"html": "<script>x()</script>"}
    page = (await client.get(f"/jobs/{job.id}")).text
    assert "fetch &lt;b&gt;" in page and "&lt;script&gt;x()&lt;/script&gt;" in page
    assert "<script>x()" not in page
    missing = await client.get("/api/jobs/0193a1b2-0000-7000-8000-000000000000/steps")
    assert missing.status_code == 404
    waiting = await stepped.enqueue()
    assert await queue.signal(waiting.id, "go <i>", {"note": "<img src=x>"})
    answer = (await client.get(f"/api/jobs/{waiting.id}/steps")).json()
    assert answer["steps"] == [] and answer["signals"][0]["payload"] == {"note": "<img src=x>"}
    page = (await client.get(f"/jobs/{waiting.id}")).text
    assert "go &lt;i&gt;" in page and "&lt;img src=x&gt;" in page and "<img src=x>" not in page


async def test_a_jobs_tags_workflow_and_children_are_served_escaped(
    client: httpx.AsyncClient, queue: aqueue.Queue
) -> None:
    @queue.task(name="echo")
    async def echo(value: object) -> object:
        return value

    flow = await queue.enqueue_workflow(
        aqueue.chain(
            echo.using(tags=["<b>vip</b>"]).prepare(1),
            aqueue.group([echo.link(), echo.link()]),
        )
    )
    first = (await queue.jobs.list(aqueue.records.JobFilter(tag="<b>vip</b>")))[0]
    detail = (await client.get(f"/api/jobs/{first.id}")).json()
    assert detail["tags"] == ["<b>vip</b>"]
    assert detail["children"] == [job.id for job in flow.jobs]
    assert detail["workflow"] == {"id": flow.id, "link": 0, "groups": []}
    member = (await client.get(f"/api/jobs/{flow.jobs[1].id}")).json()
    assert member["depends_on"] == [first.id] and member["children"] == []
    assert member["workflow"]["link"] == 1 and len(member["workflow"]["groups"]) == 1
    listed = (await client.get("/api/jobs", params={"tag": "<b>vip</b>"})).json()["jobs"]
    assert [j["id"] for j in listed] == [first.id]
    in_flow = (await client.get("/api/jobs", params={"tag": f"aqueue:group:{flow.id}"})).json()
    assert len(in_flow["jobs"]) == 3
    assert (await client.get("/api/jobs", params={"tag": "x" * 300})).status_code == 400
    page = (await client.get(f"/jobs/{first.id}")).text
    assert "&lt;b&gt;vip&lt;/b&gt;" in page and "<b>vip</b>" not in page
    assert 'id="children"' in page and flow.jobs[0].id in page and flow.id in page
    member_page = (await client.get(f"/jobs/{flow.jobs[1].id}")).text
    assert "link 2 of its chain, in group" in member_page
    listing = (await client.get("/jobs", params={"tag": "<b>vip</b>"})).text
    assert first.id in listing and "<b>vip</b>" not in listing
    cancelled = await client.post("/api/jobs/cancel", json={"tag": f"aqueue:group:{flow.id}"})
    assert cancelled.json() == {
        "action": "cancel",
        "count": 3,
        "filter": {"tag": f"aqueue:group:{flow.id}"},
    }
    assert await flow.counts() == {"cancelled": 3}


async def test_the_page_of_a_job_with_meta_but_no_schedule_renders(
    client: httpx.AsyncClient, queue: aqueue.Queue
) -> None:
    """Regression: the job page read ``meta.periodic`` as an attribute, and a
    job whose meta held anything else (a snooze count, a trace) answered 500."""

    @queue.task(name="sleeper", max_attempts=1)
    async def sleeper() -> None:
        raise aqueue.Snooze(3600)

    job = await sleeper.enqueue()
    await queue.process(1)
    assert (await job.refresh()).meta == {"snoozes": 1}
    page = await client.get(f"/jobs/{job.id}")
    assert page.status_code == 200 and "Periodic" not in page.text


async def test_a_queued_job_is_run_now_or_rescheduled(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    queue: aqueue.Queue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    @queue.task(name="later")
    async def later() -> None:
        return None

    job = await later.using(delay=3600).enqueue()
    before = await job.refresh()
    url = f"/api/jobs/{job.id}/reschedule"
    with caplog.at_level(logging.INFO, logger="aqueue.audit"):
        answer = await client.post(url, json={"run_at": "now"})
    assert answer.status_code == 200 and answer.json()["changed"] == ["due now"]
    assert "reschedule" in caplog.text and job.id in caplog.text
    moved = await job.refresh()
    assert moved.scheduled_at < before.scheduled_at
    assert await queue.process_one() is not None  # due: it runs
    assert await job.status() == aqueue.JobStatus.SUCCEEDED
    # A due time and a priority, on another queued job.
    other = await later.using(delay=60).enqueue()
    answer = await client.post(
        f"/api/jobs/{other.id}/reschedule",
        json={"run_at": "2031-01-02T03:04:05+00:00", "priority": "7"},
    )
    assert answer.status_code == 200
    info = await other.refresh()
    assert info.priority == 7 and info.scheduled_at.isoformat().startswith("2031-01-02T03:04:05")
    naive = await client.post(
        f"/api/jobs/{other.id}/reschedule", json={"run_at": "2030-05-06 07:08:09"}
    )
    assert naive.status_code == 200  # no offset: UTC
    assert (await other.refresh()).scheduled_at.isoformat().startswith("2030-05-06T07:08:09")
    # Bad input is a 400 on that input; a job that is not queued, a 409; none, a 404.
    for body in ({}, {"run_at": "soon"}, {"priority": "high"}, {"priority": "101"}):
        bad = await client.post(f"/api/jobs/{other.id}/reschedule", json=body)
        assert bad.status_code == 400, body
    done = await client.post(url, json={"run_at": "now"})
    assert done.status_code == 409 and "succeeded" in done.json()["error"]
    parent = await later.enqueue()
    child = await later.using(after=[parent]).enqueue()
    waiting = await client.post(f"/api/jobs/{child.id}/reschedule", json={"run_at": "now"})
    assert waiting.status_code == 409 and "parents" in waiting.json()["error"]
    missing = await client.post(
        "/api/jobs/0193a1b2-0000-7000-8000-000000000000/reschedule", json={"run_at": "now"}
    )
    assert missing.status_code == 404
    await browser.post("/login", data={"token": TOKEN, "next": "/"})
    page = (await browser.get(f"/jobs/{other.id}")).text
    assert 'class="run-now"' in page and 'id="reschedule"' in page
    assert 'class="run-now"' not in (await browser.get(f"/jobs/{child.id}")).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    ran = await browser.post(
        f"/api/jobs/{other.id}/reschedule",
        data={"csrf": csrf.group(1), "priority": "-3", "run_at": "", "next": f"/jobs/{other.id}"},
    )
    assert ran.status_code == 303 and ran.headers["location"] == f"/jobs/{other.id}"
    assert (await other.refresh()).priority == -3


async def test_actions_that_change_a_job_need_the_token_and_csrf(
    browser: httpx.AsyncClient, queue: aqueue.Queue
) -> None:
    job = await queue.enqueue("later", 1)
    url = f"/api/jobs/{job.id}/reschedule"
    assert (await browser.post(url, json={"run_at": "now"})).status_code == 401
    login = await browser.post("/login", data={"token": TOKEN, "next": "/"})
    assert login.status_code in (302, 303)
    assert (await browser.post(url, data={"run_at": "now"})).status_code == 403  # no CSRF


async def test_lists_show_due_times_and_errors_and_find_scheduled_jobs(
    client: httpx.AsyncClient, queue: aqueue.Queue
) -> None:
    @queue.task(name="app.mail.send", max_attempts=1)
    async def send(fail: bool) -> None:
        if fail:
            raise ValueError("no <mx> record\nsecond line")

    broken = await send.enqueue(True)
    await queue.process(1)
    later = await send.using(delay=3600).enqueue(False)
    parent = await send.using(delay=7200).enqueue(False)
    child = await send.using(after=[parent]).enqueue(False)
    rows = (await client.get("/api/jobs", params={"status": "scheduled"})).json()
    assert [j["id"] for j in rows["jobs"]] == [child.id, parent.id, later.id]
    assert rows["filter"] == {"status": "scheduled"}
    failed = (await client.get("/api/jobs", params={"task": "mail"})).json()["jobs"]
    assert [j["id"] for j in failed][-1] == broken.id
    assert failed[-1]["error"] == "ValueError: no <mx> record"
    page = (await client.get("/jobs", params={"status": "scheduled"})).text
    assert "after 1 parent" in page and "9999-01-01" not in page
    page = (await client.get("/jobs", params={"task": "mail", "status": "failed"})).text
    assert "no &lt;mx&gt; record" in page and "<mx>" not in page
    # A child cancelled by its parent was never due: no placeholder date shows.
    await queue.jobs.cancel(parent.id)
    assert (await child.refresh()).status == aqueue.JobStatus.CANCELLED
    assert "9999-01-01" not in (await client.get(f"/jobs/{child.id}")).text


async def test_schedules_show_their_ticks_and_the_jobs_they_made(
    client: httpx.AsyncClient, queue: aqueue.Queue
) -> None:
    from datetime import UTC, datetime, timedelta

    from aqueue.periodic import Scheduler

    @queue.periodic("*/5 * * * *", name="<b>digest</b>")
    @queue.task(name="digest")
    async def digest() -> None:
        return None

    @queue.periodic("0 3 * * *", timezone="Europe/Paris")
    @queue.task(name="nightly")
    async def nightly() -> None:
        return None

    empty = (await client.get("/api/schedules")).json()["schedules"]
    assert [(s["name"], s["last_tick"], s["recent_jobs"]) for s in empty] == [
        ("<b>digest</b>", None, []),
        ("nightly 0 3 * * * Europe/Paris", None, []),
    ]
    assert empty[1]["timezone"] == "Europe/Paris" and empty[1]["next_tick"] is not None
    scheduler = Scheduler.of(queue)
    now = datetime(2026, 1, 1, 12, 1, tzinfo=UTC)
    await scheduler.tick(now)  # starts each schedule at its latest tick
    await scheduler.tick(now + timedelta(minutes=5))
    made = await queue.jobs.list(aqueue.records.JobFilter(tasks=("digest",)))
    found = {s["name"]: s for s in (await client.get("/api/schedules")).json()["schedules"]}
    assert [j["id"] for j in found["<b>digest</b>"]["recent_jobs"]] == [j.id for j in made]
    assert found["<b>digest</b>"]["last_tick"].startswith("2026-01-01T12:05")
    tagged = await client.get("/api/jobs", params={"tag": found["<b>digest</b>"]["tag"]})
    assert [j["id"] for j in tagged.json()["jobs"]] == [j.id for j in made]
    page = (await client.get("/schedules")).text
    assert "&lt;b&gt;digest&lt;/b&gt;" in page and "<b>digest</b>" not in page
    assert "Europe/Paris" in page and "all its jobs" in page
    # A dashboard without the app knows a schedule by its ticks alone.
    bare = aqueue.Queue(queue.dsn)
    async with (
        bare,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=dashboard(bare)),
            base_url="http://localhost",
            headers=bearer(),
        ) as other,
    ):
        rows = (await other.get("/api/schedules")).json()["schedules"]
        assert {r["name"] for r in rows} == {"<b>digest</b>", "nightly 0 3 * * * Europe/Paris"}
        assert all(r["cron"] is None for r in rows)


async def test_ticked_jobs_are_acted_on_together(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, queue: aqueue.Queue
) -> None:
    @queue.task(name="later")
    async def later() -> None:
        return None

    jobs = [await later.using(delay=3600).enqueue() for _ in range(3)]
    ids = [job.id for job in jobs]
    ran = await client.post("/api/jobs/selected", json={"action": "run_now", "ids": ids[:2]})
    assert ran.json() == {"action": "run_now", "count": 2, "selected": 2}
    assert await queue.drain() == 2
    # Cancel the three: the two finished ones are skipped, and counted so.
    cancelled = await client.post("/api/jobs/selected", json={"action": "cancel", "ids": ids})
    assert cancelled.json()["count"] == 1
    assert await jobs[2].status() == aqueue.JobStatus.CANCELLED
    # From the page: ticked boxes are repeated form fields.
    await browser.post("/login", data={"token": TOKEN, "next": "/"})
    page = (await browser.get("/jobs")).text
    assert page.count('name="ids"') == 3
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    form = [("csrf", csrf.group(1)), ("next", "/jobs"), ("action", "delete")]
    form += [("ids", job_id) for job_id in ids]
    deleted = await browser.post(
        "/api/jobs/selected",
        content="&".join(f"{k}={quote(v)}" for k, v in form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert deleted.status_code == 303 and deleted.headers["location"] == "/jobs"
    assert await queue.jobs.list(aqueue.records.JobFilter()) == []
    # Bad selections are 400s, and act on nothing.
    for body in (
        {"action": "explode", "ids": ids},
        {"action": "retry", "ids": []},
        {"action": "retry", "ids": ["not-an-id"]},
        {"action": "retry", "ids": ["0193a1b2-0000-7000-8000-000000000000"] * 501},
    ):
        assert (await client.post("/api/jobs/selected", json=body)).status_code == 400


async def test_the_overview_charts_the_flow(queue: aqueue.Queue, client: httpx.AsyncClient) -> None:
    from aqueue.worker import Worker

    @queue.task(name="ok")
    async def ok() -> None:
        return None

    @queue.task(name="boom", max_attempts=1)
    async def boom() -> None:
        raise ValueError("no")

    await queue.enqueue_many(
        [ok.using(queue="mail").prepare() for _ in range(3)] + [boom.using(queue="web").prepare()]
    )
    await Worker(queue, burst=True, register=False).run()

    hour = (await client.get("/api/flow")).json()
    assert (hour["range"], hour["queue"], hour["bucket_seconds"]) == ("hour", None, 60)
    assert len(hour["buckets"]) == 60
    assert sum(b["succeeded"] for b in hour["buckets"]) == 3
    assert sum(b["failed"] for b in hour["buckets"]) == 1
    day = (await client.get("/api/flow", params={"range": "day", "queue": "mail"})).json()
    assert len(day["buckets"]) == 96 and day["bucket_seconds"] == 900
    assert [sum(b[k] for b in day["buckets"]) for k in ("succeeded", "failed")] == [3, 0]

    page = await client.get("/", params={"queue": "web"})
    assert page.status_code == 200
    chart = re.search(r'<figure id="outcomes-chart">.*?</figure>', page.text, re.S)
    assert chart is not None and '<svg class="chart"' in chart[0]
    assert "0 succeeded, 0 retried, 1 failed" in chart[0]
    assert 'class="on">web</a>' in page.text


async def test_task_and_queue_choices_come_from_the_database(
    queue: aqueue.Queue, client: httpx.AsyncClient, jobs: dict[str, str]
) -> None:
    await queue.enqueue("odd<b>name</b>")  # a name only the database knows
    names = (await client.get("/api/names")).json()
    assert names == {
        "tasks": ["boom", "odd<b>name</b>", "ok"],
        "queues": ["default", "mail", "web"],
    }
    page = (await client.get("/jobs")).text
    assert (
        '<datalist id="task-names"><option value="boom">'
        '<option value="odd&lt;b&gt;name&lt;/b&gt;"><option value="ok"></datalist>'
    ) in page
    assert '<option value="mail">' in page and "<b>name" not in page
    found = (await client.get("/api/jobs", params={"task": "oo"})).json()["jobs"]
    assert [j["id"] for j in found] == [jobs["failed"]]
    assert (await client.get("/api/jobs", params={"task": "zzz"})).json()["jobs"] == []


async def test_search_by_argument_and_error_text(
    queue: aqueue.Queue, client: httpx.AsyncClient, jobs: dict[str, str]
) -> None:
    @queue.task(name="send")
    async def send(user_id: int, email: str = "") -> None:
        return None

    wanted = (await send.enqueue(user_id=42, email="a@example.com")).id
    await send.enqueue(user_id=7)

    async def ids(**params: str) -> list[str]:
        answer = await client.get("/api/jobs", params=params)
        assert answer.status_code == 200, answer.text
        return [j["id"] for j in answer.json()["jobs"]]

    assert await ids(arg="user_id=42") == [wanted]
    assert await ids(arg="email=a@example.com") == [wanted]
    assert await ids(arg='user_id="42"') == []  # quoted: the text, not the number
    # The first fixture job's argument is the text "<script>alert(1)</script>".
    assert await ids(arg="0=<script>alert(1)</script>") == [jobs["ok"]]
    assert await ids(error="it broke") == [jobs["failed"]]
    assert await ids(error="it broke", status="failed", queue="web") == [jobs["failed"]]
    for bad in ("no-equals-sign", "=1", "a-b=1"):
        answer = await client.get("/api/jobs", params={"arg": bad})
        assert answer.status_code == 400 and "argument" in answer.json()["error"], answer.text
    page = await client.get("/jobs", params={"arg": "user_id=42", "error": ""})
    assert page.status_code == 200 and 'id="search-window"' in page.text
    assert f'data-id="{wanted}"' in page.text
    # The filter's own links carry the search (a quoted value stays quoted).
    listed = (await client.get("/api/jobs", params={"arg": 'user_id="42"'})).json()
    assert listed["filter"]["arg"] == 'user_id="42"'
