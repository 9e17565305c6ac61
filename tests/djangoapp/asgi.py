"""The project's ASGI app with aqueue's dashboard mounted at /aqueue/ (a
token), and one whose dashboard at /staff/ lets the project's staff in."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.djangoapp.settings")

from django.core.asgi import get_asgi_application

from aqueue.contrib.django.asgi import with_dashboard

application = with_dashboard(get_asgi_application(), token="dashboard-token-0123")
staff_application = with_dashboard(get_asgi_application(), path="/staff", django_login=True)
