"""A minimal Django 6 project whose tasks run on aqueue.

Its database is SQLite here (``EXAMPLE_DB``, default ``db.sqlite3``); point
``DATABASES`` at PostgreSQL or MySQL/MariaDB and aqueue follows.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-change-me")
DEBUG = True
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "project.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "aqueue.contrib.django",  # manage.py aqueue_worker, aqueue_migrate
    "notes",
]
MIDDLEWARE: list[str] = []

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": Path(os.environ.get("EXAMPLE_DB", BASE_DIR / "db.sqlite3")),
    }
}

TASKS = {
    "default": {
        "BACKEND": "aqueue.contrib.django.AqueueBackend",
        "QUEUES": ["default", "emails"],
        "OPTIONS": {
            # The trigger endpoints (tasks/run/...) for platforms without a worker.
            "trigger_token": os.environ.get("AQUEUE_TRIGGER_TOKEN"),
        },
    }
}
