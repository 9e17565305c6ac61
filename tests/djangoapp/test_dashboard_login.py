"""The dashboard mounted with ``django_login=True``: the project's staff log in
through the admin's own log-in form and read and act (with the CSRF token of
their pages, written to the audit log under their name); others are sent to
that form, or refused when they are logged in but not staff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from django.contrib.auth.models import User
from django.tasks import default_task_backend

from tests.djangoapp.shop import tasks

pytestmark = pytest.mark.usefixtures("clean")
PASSWORD = "a-password-for-tests-0123"


def user(name: str, *, staff: bool) -> None:
    found, _ = User.objects.get_or_create(username=name)
    found.is_staff = staff
    found.is_active = True
    found.set_password(PASSWORD)
    found.save()


@contextlib.asynccontextmanager
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A browser's client of the project with the staff dashboard. The queue
    the dashboard opened on this event loop is closed with it, for the next
    test's loop."""
    from tests.djangoapp.asgi import staff_application

    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=staff_application), base_url="http://testserver"
        ) as web:
            yield web
    finally:
        await default_task_backend.queue.close()


async def log_in(web: httpx.AsyncClient, name: str) -> None:
    """Through the admin's log-in form, as a browser would."""
    form = await web.get("/admin/login/", params={"next": "/staff/"})
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token is not None
    done = await web.post(
        "/admin/login/?next=/staff/",
        data={"csrfmiddlewaretoken": token[1], "username": name, "password": PASSWORD},
    )
    assert done.status_code == 302 and done.headers["location"] == "/staff/"


def page_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "the page has no action form"
    return found[1]


def test_staff_users_read_and_act_with_djangos_login(caplog: pytest.LogCaptureFixture) -> None:
    user("ann", staff=True)
    job = tasks.add.enqueue(1, 2)

    async def visit() -> dict[str, httpx.Response]:
        seen: dict[str, httpx.Response] = {}
        async with client() as web:
            seen["anonymous page"] = await web.get("/staff/jobs")
            seen["anonymous api"] = await web.get("/staff/api/overview")
            seen["anonymous login"] = await web.get("/staff/login")
            await log_in(web, "ann")
            seen["page"] = await web.get(f"/staff/jobs/{job.id}")
            seen["api"] = await web.get("/staff/api/overview")
            url = f"/staff/api/jobs/{job.id}/cancel"
            seen["no csrf"] = await web.post(url)
            seen["wrong csrf"] = await web.post(url, headers={"X-CSRF-Token": "0" * 64})
            token = page_csrf(seen["page"].text)
            seen["cancel"] = await web.post(url, headers={"X-CSRF-Token": token})
            # A forged or stale session cookie is nobody.
            web.cookies.clear()
            web.cookies.set("sessionid", "not-a-session-key")
            seen["forged"] = await web.get("/staff/api/overview")
        return seen

    with caplog.at_level(logging.INFO, logger="aqueue.audit"):
        seen = asyncio.run(visit())

    page = seen["anonymous page"]
    assert page.status_code == 303
    assert page.headers["location"] == "/admin/login/?next=%2Fstaff%2Fjobs"
    assert seen["anonymous api"].status_code == 401
    assert seen["anonymous login"].headers["location"] == "/admin/login/?next=%2Fstaff%2F"
    assert seen["page"].status_code == 200 and "ann" in seen["page"].text
    assert "Log out" not in seen["page"].text  # they log out of the project, not here
    assert seen["api"].status_code == 200
    assert seen["no csrf"].status_code == 403
    assert seen["wrong csrf"].status_code == 403
    assert seen["cancel"].status_code == 200, seen["cancel"].text
    assert tasks.add.get_result(job.id).status.name == "FAILED"  # Django's name for cancelled
    assert seen["forged"].status_code == 401
    audit = [r.getMessage() for r in caplog.records if r.name == "aqueue.audit"]
    assert any(
        f"cancel job {job.id}" in line and "Django user 'ann' from" in line for line in audit
    ), audit


def test_a_logged_in_user_who_is_not_staff_is_refused() -> None:
    user("bob", staff=False)

    async def visit() -> list[httpx.Response]:
        async with client() as web:
            # The admin's form turns non-staff away, so log in by Django's own
            # session machinery: a project's own log-in page would let bob in.
            await sync_login(web, "bob")
            return [await web.get("/staff/"), await web.get("/staff/api/overview")]

    page, api = asyncio.run(visit())
    assert page.status_code == 403 and "&#x27;bob&#x27; is not one" in page.text
    assert api.status_code == 403 and "staff" in api.json()["error"]


async def sync_login(web: httpx.AsyncClient, name: str) -> None:
    from asgiref.sync import sync_to_async
    from django.conf import settings
    from django.test import Client

    def session_key() -> str:
        django_client = Client()
        django_client.force_login(User.objects.get(username=name))
        return str(django_client.cookies[settings.SESSION_COOKIE_NAME].value)

    web.cookies.set(settings.SESSION_COOKIE_NAME, await sync_to_async(session_key)())
