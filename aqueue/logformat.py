"""``--log-format json``: one JSON object per log line.

Each line has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``event``
(the message), plus the job fields a record carries as ``extra`` (``job_id``,
``task``, ``queue``, ``attempt``, ``duration``, ``status``, ``worker``,
``error_type``) and ``exception`` (the traceback) when there is one. The same
``extra`` fields reach any handler, for structlog or python-json-logger users.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from aqueue.escape import json_line, printable

#: The ``extra`` fields aqueue's log records may carry.
FIELDS = (
    "job_id",
    "task",
    "queue",
    "attempt",
    "duration",
    "status",
    "worker",
    "error_type",
    "audit_action",
    "audit_target",
    "audit_who",
    "audit_count",
)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, with the message's control characters
    (a newline that would forge a line, a terminal's escape sequences) shown
    as escapes; a traceback keeps its own line breaks."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        return printable(super().formatException(ei), multiline=True)


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json_line(line, default=str)


def configure(level: str, fmt: str, *, root: bool = True) -> None:
    """Set up logging for a command: ``fmt`` is ``text`` or ``json``.

    ``root``: on the root logger (aqueue's own commands). Otherwise only on
    aqueue's loggers, leaving the rest to the host framework (Django's
    ``LOGGING``), so that no line is printed twice.
    """
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if root:
        logging.basicConfig(level=level.upper(), handlers=[handler])
        return
    logger = logging.getLogger("aqueue")
    logger.setLevel(level.upper())
    logger.addHandler(handler)
    logger.propagate = False
