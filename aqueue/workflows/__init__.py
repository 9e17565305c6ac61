"""Workflows: chains, groups and chords of jobs with results passed along.

See :mod:`aqueue.workflows.canvas` for how one is built and stored,
:mod:`aqueue.workflows.inputs` for what a link receives, and
:mod:`aqueue.workflows.handle` for the handle ``enqueue_workflow`` returns.
"""

from aqueue.workflows.batches import Batch, BatchClosed
from aqueue.workflows.canvas import Chain, Group, chain, chord, group
from aqueue.workflows.handle import Workflow
from aqueue.workflows.inputs import Failure

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
