"""SQLite's wake-up sockets as the Notifications capability."""

from __future__ import annotations

import logging

from aqueue.backends.base import (
    CancelHandler,
    DoneHandler,
    HandoverHandler,
    Listener,
    NewJobHandler,
)
from aqueue.backends.sqlite.core import SQLiteCore
from aqueue.backends.wakeup import WakeListener

log = logging.getLogger("aqueue.sqlite")


class SQLiteNotifications(SQLiteCore):
    """:class:`~aqueue.backends.base.Notifications` for the processes of one
    host, through datagram sockets beside the database file."""

    async def listen(
        self,
        on_new: NewJobHandler,
        on_done: DoneHandler,
        on_cancel: CancelHandler | None = None,
        on_handover: HandoverHandler | None = None,
    ) -> Listener | None:
        if self._wake.directory is None:
            return None
        try:
            return WakeListener(self._wake.directory, on_new, on_done, on_cancel)
        except OSError as exc:
            log.warning(
                "no wake-up socket in %s (%s): relying on polling", self._wake.directory, exc
            )
            return None
