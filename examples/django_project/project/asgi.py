"""ASGI entry point, with aqueue's dashboard at /aqueue/ (needs aqueue[web])."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from django.core.asgi import get_asgi_application

from aqueue.contrib.django.asgi import with_dashboard

application = with_dashboard(get_asgi_application(),
                             token=os.environ.get("AQUEUE_DASHBOARD_TOKEN"),
                             read_only="AQUEUE_DASHBOARD_TOKEN" not in os.environ)
