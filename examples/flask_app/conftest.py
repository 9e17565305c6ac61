"""The example's tests use aqueue's pytest plugin: ``aqueue_app`` names the
app's queue, ``aqueue_dsn`` gives it a file, since the Flask views enqueue with
``enqueue_sync`` (an in-memory database is private to one connection)."""

from __future__ import annotations

from pathlib import Path

import pytest

import aqueue
from examples.flask_app import jobs


@pytest.fixture
def aqueue_app() -> aqueue.Queue:
    return jobs.queue


@pytest.fixture
def aqueue_dsn(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.db'}"


@pytest.fixture(autouse=True)
def empty_outbox() -> None:
    jobs.OUTBOX.clear()
