"""Serve aqueue's dashboard beside a Django project in one ASGI app.

In ``asgi.py``::

    from django.core.asgi import get_asgi_application
    from aqueue.contrib.django.asgi import with_dashboard

    application = with_dashboard(get_asgi_application(), token=os.environ["AQUEUE_DASHBOARD_TOKEN"])

Requests under ``/aqueue/`` (``path=``) go to the dashboard, on the queue of
the ``TASKS`` backend; everything else to Django.
"""

from __future__ import annotations

from typing import Any

from aqueue.contrib.django.management.commands.aqueue_worker import backend_named

ASGIApp = Any


def with_dashboard(django_app: ASGIApp, *, path: str = "/aqueue", token: str | None = None,
                   read_only: bool = False, backend: str = "default") -> ASGIApp:
    """``django_app`` with the dashboard mounted at ``path`` (needs aqueue[web])."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from aqueue.web import create_app

    dashboard = create_app(backend_named(backend).queue, token=token, read_only=read_only)
    prefix = "/" + path.strip("/")
    return Starlette(routes=[Mount(prefix, app=dashboard), Mount("/", app=django_app)])
