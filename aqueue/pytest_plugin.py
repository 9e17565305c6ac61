"""aqueue's pytest plugin (installed with aqueue, loaded by pytest itself):
the ``aqueue_app`` and ``aqueue_queue`` fixtures of :mod:`aqueue.testing`.

``aqueue_app`` is the app's :class:`~aqueue.Queue`: named by the
``aqueue_app = "package.module:queue"`` ini option, or given by a project
fixture of that name. ``aqueue_queue`` is that queue on a private in-memory
SQLite database for one test (a :class:`~aqueue.testing.QueueUnderTest`);
``aqueue_eager`` the same with eager enqueue. They need pytest-asyncio.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from aqueue.queue import Queue
    from aqueue.testing import QueueUnderTest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "aqueue_app",
        "The app's aqueue.Queue, as 'package.module:attribute', for the aqueue_queue fixture",
        default="",
    )


@pytest.fixture
def aqueue_app(pytestconfig: pytest.Config) -> Queue:
    """The app's queue, from the ``aqueue_app`` ini option (override to choose)."""
    from aqueue.queue import Queue

    where = str(pytestconfig.getini("aqueue_app"))
    if not where:
        raise pytest.UsageError(
            'aqueue_queue needs the app\'s queue: set `aqueue_app = "package.module:queue"` '
            "in the pytest configuration, or define an `aqueue_app` fixture returning it"
        )
    module_name, _, attribute = where.partition(":")
    found: Any = importlib.import_module(module_name)
    for part in (attribute or "queue").split("."):
        found = getattr(found, part)
    if not isinstance(found, Queue):
        raise pytest.UsageError(
            f"aqueue_app {where!r} is a {type(found).__name__}, not an aqueue.Queue"
        )
    return found


@pytest.fixture
def aqueue_dsn() -> str:
    """The database of ``aqueue_queue``: in-memory SQLite. Override it with a
    file (``f"sqlite:///{tmp_path}/jobs.db"``) for code that uses
    ``enqueue_sync``, whose calls use a connection of their own."""
    from aqueue.testing import MEMORY_DSN

    return MEMORY_DSN


try:
    import pytest_asyncio
except ImportError:  # the fixtures need it; without it they are not defined
    pass
else:

    @pytest_asyncio.fixture
    async def aqueue_queue(aqueue_app: Queue, aqueue_dsn: str) -> AsyncIterator[QueueUnderTest]:
        """The app's queue on a private database (``aqueue_dsn``), for one test."""
        from aqueue.testing import queue_under_test

        async with queue_under_test(aqueue_app, aqueue_dsn) as queue:
            yield queue

    @pytest_asyncio.fixture
    async def aqueue_eager(aqueue_app: Queue, aqueue_dsn: str) -> AsyncIterator[QueueUnderTest]:
        """:func:`aqueue_queue` where enqueue runs the jobs at once."""
        from aqueue.testing import queue_under_test

        async with queue_under_test(aqueue_app, aqueue_dsn, eager=True) as queue:
            yield queue
