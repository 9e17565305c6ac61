"""The HTTP trigger endpoints as Django views (see :mod:`aqueue.triggers`):
``include("aqueue.contrib.django.urls")`` under ``tasks/`` gives
``POST tasks/run/``, ``POST tasks/run-one/`` and ``GET tasks/status/``.

The token is the backend's ``OPTIONS["trigger_token"]``; without one the run
endpoints answer 403 unless ``OPTIONS["trigger_allow_unauthenticated"]``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.tasks import task_backends
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from aqueue import triggers
from aqueue.contrib.django.backend import AqueueBackend
from aqueue.errors import AqueueError, DatabaseUnavailable
from aqueue.queue import Queue
from aqueue.triggers import MAX_BODY

log = logging.getLogger("aqueue.web")


def _backend() -> AqueueBackend:
    backend = task_backends["default"]
    assert isinstance(backend, AqueueBackend), "TASKS['default'] must be aqueue's backend"
    return backend


def _error(status: int, message: str) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="aqueue"'
    return response


def _body(request: HttpRequest) -> bytes:
    """The request's body, read no further than the limit the trigger app has."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise _TooLarge
    raw = request.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise _TooLarge
    return raw


class _TooLarge(Exception):
    """A body over MAX_BODY (answered 413, before any work)."""


def _answer(
    request: HttpRequest,
    mutating: bool,
    make: Callable[[], Callable[[Queue], Awaitable[dict[str, Any]]]],
) -> HttpResponse:
    backend = _backend()
    refused = backend.trigger_auth.check(request.headers.get("Authorization"), mutating=mutating)
    if refused is not None:
        return _error(*refused)
    try:
        operation = make()  # parses the request: a 400 before any work
        return JsonResponse(backend.queue.sync_bridge().call(operation))
    except _TooLarge:
        return _error(413, f"the request body is larger than {MAX_BODY} bytes")
    except triggers.BadTriggerRequest as exc:
        return _error(400, str(exc))
    except AqueueError as exc:
        log.warning("trigger %s failed: %s", request.path, exc)
        status = 503 if isinstance(exc, DatabaseUnavailable) else 500
        return _error(status, f"the database could not answer: {exc}")


@csrf_exempt  # called by schedulers with a bearer token, never by a browser form
@require_POST
def run(request: HttpRequest) -> HttpResponse:
    """``POST tasks/run/``: run up to ``max_tasks`` due jobs in this process."""

    def make() -> Callable[[Queue], Awaitable[dict[str, Any]]]:
        parsed = triggers.parse_run(_body(request))
        return lambda queue: triggers.run_answer(queue, parsed)

    return _answer(request, True, make)


@csrf_exempt
@require_POST
def run_one(request: HttpRequest) -> HttpResponse:
    """``POST tasks/run-one/``: run the next due job, if any."""

    def make() -> Callable[[Queue], Awaitable[dict[str, Any]]]:
        parsed = triggers.parse_run(_body(request), one=True)
        return lambda queue: triggers.run_one_answer(queue, parsed)

    return _answer(request, True, make)


@require_GET
def status(request: HttpRequest) -> HttpResponse:
    """``GET tasks/status/?queue_name=``: how many jobs are queued."""

    def make() -> Callable[[Queue], Awaitable[dict[str, Any]]]:
        name = triggers.parse_status(request.GET.dict())
        return lambda queue: triggers.status_answer(queue, name)

    return _answer(request, False, make)
