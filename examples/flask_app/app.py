"""A Flask app that enqueues from its (sync) views with ``enqueue_sync``.

Run it with ``flask --app examples.flask_app.app run`` and a worker beside it:
``aqueue-worker examples.flask_app.jobs:queue``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, request

from examples.flask_app.jobs import make_thumbnail, queue, send_welcome

app = Flask(__name__)


@app.post("/signup")
def signup() -> tuple[dict[str, Any], int]:
    email = request.get_json(force=True).get("email", "")
    # Durable once it returns; a welcome already queued for this address is not queued twice.
    job = send_welcome.using(unique_key=f"welcome:{email}").enqueue_sync(email)
    return {"job": job.id}, 202


@app.post("/images/<int:image_id>/thumbnail")
def thumbnail(image_id: int) -> tuple[dict[str, Any], int]:
    job = make_thumbnail.using(priority=5).enqueue_sync(image_id, size=256)
    return {"job": job.id}, 202


@app.get("/jobs/<job_id>")
def job_status(job_id: str) -> dict[str, Any]:
    try:
        info = queue.get_job_sync(job_id)
    except ValueError:
        abort(404)
    if info is None:
        abort(404)
    return {"id": info.id, "status": str(info.status), "result": info.result}
