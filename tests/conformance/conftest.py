"""Fixtures of the conformance suite beyond the database itself."""

from tests.conformance.isolated import app

__all__ = ["app"]
