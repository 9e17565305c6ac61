"""The trigger endpoints as an ASGI app, deployed as a function (behind the
platform's ASGI adapter) or a small web service:

    AQUEUE_DSN=postgresql://... AQUEUE_TRIGGER_TOKEN=... uvicorn examples.serverless.app:app

``POST /tasks/run/`` runs due jobs inside the call, within ``time_budget_s``.
"""

from __future__ import annotations

import os

from aqueue.web.triggers import create_trigger_app
from examples.serverless.jobs import queue

app = create_trigger_app(queue, token=os.environ.get("AQUEUE_TRIGGER_TOKEN"))
