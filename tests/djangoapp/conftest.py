"""The Django tests run in an environment with Django 6 (Python >= 3.12), one
database per run (``AQUEUE_DJANGO_DB``); tests/acceptance/test_django_suite.py
starts those runs from the main suite. Elsewhere they are not collected."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    import django

    HAVE_DJANGO = django.VERSION >= (6, 0)
except ImportError:
    HAVE_DJANGO = False

if not HAVE_DJANGO:
    collect_ignore_glob = ["test_*.py"]
else:
    # Set up before the test modules import the project's models and tasks.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.djangoapp.settings")
    django.setup()

ROOT = Path(__file__).resolve().parents[2]


def _prepare_database() -> None:
    from tests.databases import fresh_database

    backend = os.environ.get("AQUEUE_DJANGO_DB", "sqlite")
    if backend == "sqlite":
        from tests.djangoapp.settings import SQLITE_FILE

        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
    else:
        fresh_database(backend, "aqueue_django")


@pytest.fixture(scope="session")
def django_project() -> Iterator[None]:
    """Django set up on a fresh database, its tables and aqueue's created the
    way a project creates them (``migrate``, ``aqueue_migrate``)."""
    _prepare_database()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("aqueue_migrate", verbosity=0)
    yield


@pytest.fixture
def clean(django_project: None) -> Iterator[None]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM aqueue_jobs")
        cursor.execute("DELETE FROM shop_order")
    yield
