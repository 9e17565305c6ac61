"""The Queue's door to workflows and batches: the methods users call on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from aqueue import validation

if TYPE_CHECKING:
    from aqueue.queue import Queue
    from aqueue.task import JobRequest
    from aqueue.workflows.batches import Batch
    from aqueue.workflows.canvas import Node
    from aqueue.workflows.handle import Workflow

# The modules each method needs are imported in it: a Queue whose jobs use no
# workflow never loads them (an idle worker stays small).


class WorkflowEntry:
    """Workflows (:mod:`aqueue.workflows.canvas`) and batches
    (:mod:`aqueue.workflows.batches`), enqueued through a :class:`~aqueue.Queue`."""

    async def enqueue_workflow(self, workflow: Node, *, connection: Any = None) -> Workflow:
        """Enqueue a chain, group or chord: every job in one transaction, all
        or none (``connection``: the caller's, as ``enqueue_many``); its handle."""
        from aqueue.workflows.handle import enqueue

        return await enqueue(_queue(self), workflow, connection)

    async def workflow(self, workflow_id: str) -> Workflow:
        """The handle of an enqueued workflow, found again by its id."""
        from aqueue.workflows.handle import load

        return await load(_queue(self), validation.check_job_id(workflow_id, "workflow id"))

    async def open_batch(
        self,
        *,
        on_success: JobRequest | None = None,
        on_failure: JobRequest | None = None,
        on_complete: JobRequest | None = None,
        connection: Any = None,
    ) -> Batch:
        """Open a batch: add jobs with ``await batch.add([...])`` (from any
        producer: ``queue.batch(id)``), then ``await batch.close()``. Each
        callback (``task.link(...)``: it gets the batch's counts first) runs
        once, when every job added has ended: ``on_success`` if all
        succeeded, ``on_failure`` if one failed or was cancelled,
        ``on_complete`` either way."""
        from aqueue.workflows.batches import open_batch

        callbacks = {"success": on_success, "failure": on_failure, "complete": on_complete}
        return await open_batch(_queue(self), callbacks, connection)

    def batch(self, batch_id: str) -> Batch:
        """A handle on a batch opened here or elsewhere, by its id (not read)."""
        from aqueue.workflows.batches import Batch

        return Batch(_queue(self), validation.check_job_id(batch_id, "batch id"))


def _queue(entry: WorkflowEntry) -> Queue:
    # Only Queue inherits WorkflowEntry.
    return cast("Queue", entry)
