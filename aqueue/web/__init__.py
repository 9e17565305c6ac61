"""aqueue's dashboard and JSON API: an ASGI app (Starlette + Jinja2).

Install with ``pip install 'aqueue[web]'``; serve it with ``aqueue dashboard``
or mount :func:`create_app` in a Starlette/FastAPI app. See docs/dashboard.md.
"""

from aqueue.web.app import create_app

__all__ = ["create_app"]
