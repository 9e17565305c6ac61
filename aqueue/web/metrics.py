"""``GET /metrics`` on the dashboard: the queue-depth gauges of :mod:`aqueue.metrics`.

Present only when prometheus-client is installed (``aqueue[metrics]``). The
depths are read on a scrape, at most once per :data:`MAX_AGE` seconds however
many scrapers there are.
"""

from __future__ import annotations

import asyncio
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aqueue.metrics import DepthCollector, DepthSampler

#: Seconds a read of the depths is served before the next scrape reads again.
MAX_AGE = 5.0


class _Depths:
    def __init__(self) -> None:
        self.sampler: DepthSampler | None = None
        self.registry = CollectorRegistry()
        self.read_at = 0.0
        self.lock = asyncio.Lock()


async def metrics(request: Request) -> Response:
    depths: _Depths = request.app.state.depths
    async with depths.lock:
        if depths.sampler is None:
            depths.sampler = DepthSampler.of(request.app.state.queue)
            depths.registry.register(DepthCollector(depths.sampler))
        if time.monotonic() - depths.read_at > MAX_AGE:
            await depths.sampler.sample()
            depths.read_at = time.monotonic()
    return Response(generate_latest(depths.registry), media_type=CONTENT_TYPE_LATEST)


routes = [Route("/metrics", metrics, methods=["GET"])]


def state() -> _Depths:
    """The per-app state ``metrics`` keeps (set as ``app.state.depths``)."""
    return _Depths()
