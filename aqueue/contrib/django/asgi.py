"""Serve aqueue's dashboard beside a Django project in one ASGI app.

In ``asgi.py``::

    from django.core.asgi import get_asgi_application
    from aqueue.contrib.django.asgi import with_dashboard

    application = with_dashboard(get_asgi_application(), token=os.environ["AQUEUE_DASHBOARD_TOKEN"])

Requests under ``/aqueue/`` (``path=``) go to the dashboard, on the queue of
the ``TASKS`` backend; everything else to Django. The dashboard asks for its
token on every page and API call (``public_reads=True`` opens the reads on
purpose) and answers only to the project's ``ALLOWED_HOSTS``.

With ``django_login=True`` the project's own log-in lets its active staff users
in, no token needed (see :mod:`aqueue.contrib.django.login`); a ``token`` still
works for API clients beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aqueue.contrib.django.management.commands.aqueue_worker import backend_named

ASGIApp = Any


def django_hosts(allowed: Sequence[str], debug: bool) -> list[str]:
    """Django's ``ALLOWED_HOSTS`` as the dashboard's patterns: ``.example.com``
    is the domain and its subdomains; an empty list under ``DEBUG`` means the
    loopback names, as Django reads it."""
    if not allowed and debug:
        return ["localhost", "*.localhost", "127.0.0.1", "::1"]
    hosts: list[str] = []
    for name in allowed:
        if name.startswith("."):
            hosts += [name[1:], "*" + name]
        else:
            hosts.append(name)
    return hosts


def with_dashboard(
    django_app: ASGIApp,
    *,
    path: str = "/aqueue",
    token: str | None = None,
    read_only: bool = False,
    public_reads: bool = False,
    allowed_hosts: Sequence[str] | None = None,
    backend: str = "default",
    django_login: bool = False,
    login_url: str = "admin:login",
) -> ASGIApp:
    """``django_app`` with the dashboard mounted at ``path`` (needs aqueue[web]).

    ``allowed_hosts`` defaults to the project's ``ALLOWED_HOSTS``.
    ``django_login``: staff users logged in to the project may use it, and
    others are sent to ``login_url`` (a URL or a URL name; the admin's by
    default, as ``staff_member_required`` does).
    """
    from django.conf import settings
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from aqueue.contrib.django.login import DjangoStaffLogin
    from aqueue.web import create_app

    hosts = (
        allowed_hosts
        if allowed_hosts is not None
        else django_hosts(list(settings.ALLOWED_HOSTS), bool(settings.DEBUG))
    )
    dashboard = create_app(
        backend_named(backend).queue,
        token=token,
        read_only=read_only,
        public_reads=public_reads,
        allowed_hosts=hosts,
        site_login=DjangoStaffLogin(login_url) if django_login else None,
    )
    prefix = "/" + path.strip("/")
    return Starlette(routes=[Mount(prefix, app=dashboard), Mount("/", app=django_app)])
