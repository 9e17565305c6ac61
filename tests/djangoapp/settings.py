"""A real Django 6 project for aqueue's Django tests, on the database that
``AQUEUE_DJANGO_DB`` names (postgresql, mysql or sqlite)."""

from __future__ import annotations

import os
from pathlib import Path

from aqueue.dsn import parse

BACKEND = os.environ.get("AQUEUE_DJANGO_DB", "sqlite")
SQLITE_FILE = Path(os.environ.get("AQUEUE_DJANGO_SQLITE", "/tmp/aqueue-django-tests.db"))


def _server(engine: str, dsn: str) -> dict[str, object]:
    parsed = parse(dsn)
    return {
        "ENGINE": engine,
        "NAME": "aqueue_django",
        "USER": parsed.user or "",
        "PASSWORD": parsed.password or "",
        "HOST": parsed.host or "127.0.0.1",
        "PORT": str(parsed.port or ""),
    }


if BACKEND == "postgresql":
    DATABASES = {
        "default": _server(
            "django.db.backends.postgresql",
            os.environ.get(
                "AQUEUE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/aqueue_test"
            ),
        )
    }
elif BACKEND == "mysql":
    DATABASES = {
        "default": _server(
            "django.db.backends.mysql",
            os.environ.get("AQUEUE_TEST_MYSQL_DSN", "mysql://root@127.0.0.1:3306/aqueue_test"),
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_FILE,
            "OPTIONS": {"timeout": 20},
        }
    }

SECRET_KEY = "aqueue-tests-only"  # a test project
# startproject's DEBUG = True shows django.tasks' own lines on the console (a test
# counts them); False otherwise.
DEBUG = os.environ.get("AQUEUE_TEST_DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "tests.djangoapp.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "aqueue.contrib.django",
    "tests.djangoapp.shop",
]
# The admin's log-in page lets staff into the dashboard mounted with
# django_login=True (tests/djangoapp/asgi.py).
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
TASKS = {
    "default": {
        "BACKEND": "aqueue.contrib.django.AqueueBackend",
        "QUEUES": ["default", "emails"],
        "OPTIONS": {"max_attempts": 2, "trigger_token": "django-trigger-token-0123"},
    },
}
LOGGING = {"version": 1, "disable_existing_loggers": False}
