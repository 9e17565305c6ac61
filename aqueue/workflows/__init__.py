"""Workflows: chains, groups and chords of jobs with results passed along,
and batches with callbacks.

See :mod:`aqueue.workflows.canvas` for how one is built and stored,
:mod:`aqueue.workflows.inputs` for what a link receives,
:mod:`aqueue.workflows.handle` for the handle ``enqueue_workflow`` returns and
:mod:`aqueue.workflows.batches` for batches. The names below are loaded on
first use: a worker whose jobs use no workflow never imports them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aqueue.workflows.batches import Batch, BatchClosed
    from aqueue.workflows.canvas import Chain, Group, chain, chord, group
    from aqueue.workflows.handle import Workflow
    from aqueue.workflows.inputs import Failure

#: Each public name, and the module that holds it.
WHERE = {
    "Batch": "batches",
    "BatchClosed": "batches",
    "Chain": "canvas",
    "Group": "canvas",
    "chain": "canvas",
    "chord": "canvas",
    "group": "canvas",
    "Workflow": "handle",
    "Failure": "inputs",
}

__all__ = [
    "Batch",
    "BatchClosed",
    "Chain",
    "Failure",
    "Group",
    "Workflow",
    "chain",
    "chord",
    "group",
]


def __getattr__(name: str) -> Any:
    if name not in WHERE:
        raise AttributeError(f"module 'aqueue.workflows' has no attribute {name!r}")
    return getattr(importlib.import_module(f"aqueue.workflows.{WHERE[name]}"), name)
