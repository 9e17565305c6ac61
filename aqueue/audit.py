"""The audit log: one INFO record per action taken on jobs or queues from the
dashboard, its API or the ``aqueue`` command, on the ``aqueue.audit`` logger.

Each record says what was done, to what, and by whom (``who``: the
credential and the client address for the web; ``cli`` and the user for the
command). The same fields reach every handler as ``extra`` (``audit_action``,
``audit_target``, ``audit_who``, ``audit_count``), and ``--log-format json``
prints them, so the audit trail can be routed and kept apart from the rest.
"""

from __future__ import annotations

import getpass
import logging

log = logging.getLogger("aqueue.audit")


def record(action: str, target: str, who: str, count: int | None = None) -> None:
    """Write one audit record: ``who`` did ``action`` to ``target`` (``count`` jobs)."""
    what = f"{action} {target}" if count is None else f"{action} {target}: {count} jobs"
    log.info(
        "%s by %s",
        what,
        who,
        extra={
            "audit_action": action,
            "audit_target": target,
            "audit_who": who,
            "audit_count": count,
        },
    )


def command_user() -> str:
    """Who runs this ``aqueue`` command: ``cli (user)``."""
    try:
        return f"cli ({getpass.getuser()})"
    except (KeyError, OSError):  # no name for this uid (a container's odd user)
        return "cli"
