"""The project's ASGI app with aqueue's dashboard mounted at /aqueue/."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.djangoapp.settings")

from django.core.asgi import get_asgi_application

from aqueue.contrib.django.asgi import with_dashboard

application = with_dashboard(get_asgi_application(), token="dashboard-token-0123")
