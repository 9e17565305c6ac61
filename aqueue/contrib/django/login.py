"""Django's own log-in for the mounted dashboard: the project's active staff
users read and act, without a separate token (``with_dashboard(...,
django_login=True)``).

The dashboard reads the project's session cookie and asks Django who it
belongs to (``django.contrib.auth.get_user``, which also drops a session whose
user changed their password since). Anyone else is sent to the project's
log-in page, like ``staff_member_required`` does; a logged-in user who is not
staff gets a 403. Forms of the pages carry a CSRF token that only the project
can make (an HMAC of the session key under its ``SECRET_KEY``).
"""

from __future__ import annotations

from importlib import import_module
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from starlette.requests import Request

from aqueue.web.auth import SiteUser


class DjangoStaffLogin:
    """A :class:`~aqueue.web.auth.SiteLogin` for Django's sessions and users."""

    site = "Django"

    def __init__(self, login_url: str = "admin:login") -> None:
        self._login_url = login_url

    async def user(self, request: Request) -> SiteUser | None:
        from django.conf import settings

        key = request.cookies.get(settings.SESSION_COOKIE_NAME, "")
        if not key:
            return None
        return await sync_to_async(_session_user, thread_sensitive=True)(key)

    def login_url(self, next_path: str) -> str:
        from django.contrib.auth import REDIRECT_FIELD_NAME
        from django.shortcuts import resolve_url

        return f"{resolve_url(self._login_url)}?{urlencode({REDIRECT_FIELD_NAME: next_path})}"

    def csrf_token(self, session: str) -> str:
        from django.utils.crypto import salted_hmac

        return salted_hmac("aqueue.contrib.django.login", session, algorithm="sha256").hexdigest()


def _session_user(key: str) -> SiteUser | None:
    from django.conf import settings
    from django.contrib.auth import get_user
    from django.db import close_old_connections
    from django.http import HttpRequest

    # What Django does around each of its own requests: a connection past its
    # age, or broken by a database restart, is not reused.
    close_old_connections()
    try:
        request = HttpRequest()
        request.session = import_module(settings.SESSION_ENGINE).SessionStore(key)
        user = get_user(request)
        if not user.is_authenticated:
            return None
        allowed = bool(user.is_active and getattr(user, "is_staff", False))
        return SiteUser(name=user.get_username(), session=key, allowed=allowed)
    finally:
        close_old_connections()
