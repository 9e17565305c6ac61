"""A queue's backend seen through one of its capabilities (aqueue.backends.base):
what the test needs, checked, so that a backend without it fails loudly."""

from __future__ import annotations

import aqueue
from aqueue.backends.base import Handover, Notifications, Registry


def registry(queue: aqueue.Queue) -> Registry:
    assert isinstance(queue.backend, Registry), f"{queue.dialect} keeps no workers registry"
    return queue.backend


def notifications(queue: aqueue.Queue) -> Notifications:
    assert isinstance(queue.backend, Notifications), f"{queue.dialect} cannot notify"
    return queue.backend


def handover(queue: aqueue.Queue) -> Handover:
    assert isinstance(queue.backend, Handover), f"{queue.dialect} cannot hand over"
    return queue.backend
