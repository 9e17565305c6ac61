"""ASGI entry point, with aqueue's dashboard at /aqueue/ when AQUEUE_DASHBOARD_TOKEN
is set (needs aqueue[web]); every page and API call asks for that token."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from django.core.asgi import get_asgi_application

from aqueue.contrib.django.asgi import with_dashboard

application = get_asgi_application()
if os.environ.get("AQUEUE_DASHBOARD_TOKEN"):
    application = with_dashboard(application, token=os.environ["AQUEUE_DASHBOARD_TOKEN"])
