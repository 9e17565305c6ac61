"""The handle of an enqueued workflow: its jobs counted, cancelled, its result awaited."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aqueue.backends.base import Tags
from aqueue.errors import ConfigurationError, JobNotFound
from aqueue.job import Job, result_of
from aqueue.records import FINAL_STATUSES, JobFilter, JobInfo, group_tag
from aqueue.workflows.canvas import META_KEY, Node, Shape, exits, plan
from aqueue.workflows.inputs import read_jobs

if TYPE_CHECKING:
    from aqueue.queue import Queue

_PAGE = 1000


class Workflow:
    """An enqueued chain, group or chord, by id; reads go to the database.

    ``await queue.enqueue_workflow(...)`` returns one, and ``await
    queue.workflow(id)`` finds one again later (in another process too).
    """

    def __init__(self, queue: Queue, workflow_id: str, shape: Shape) -> None:
        self._queue = queue
        self.id = workflow_id
        self._shape = shape

    def __repr__(self) -> str:
        return f"<aqueue.Workflow {self.id}>"

    @property
    def jobs(self) -> list[Job[Any]]:
        """The jobs whose results make up the workflow's (a chain's last link,
        a group's members), in order."""
        return [Job(self._queue, job_id) for job_id in exits(self._shape)]

    async def counts(self) -> dict[str, int]:
        """How many of the workflow's jobs each status holds (every job of it,
        not only those of :attr:`jobs`); statuses without any are left out."""
        await self._queue.open()
        return await _tags(self._queue).tag_counts(group_tag(self.id))

    async def cancel(self) -> int:
        """Cancel the workflow's queued jobs and stop its running ones; how many."""
        return await self._queue.jobs.cancel_matching(JobFilter(tag=group_tag(self.id)))

    async def results(self, timeout: float | None = None) -> Any:
        """Wait for the workflow to end and return its result: a chain's is its
        last link's, a group's the list of its members', in order.

        Raises :class:`~aqueue.JobFailed` or :class:`~aqueue.JobCancelled` for
        the first (in that order) of those jobs that did not succeed, and
        ``TimeoutError`` when ``timeout`` seconds pass first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        ids = exits(self._shape)
        await self._queue.open()
        while True:
            found = await read_jobs(self._queue.backend, ids)
            pending = [i for i in ids if i not in found or found[i].status not in FINAL_STATUSES]
            if not pending:
                return _build(self._shape, found)
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"workflow {self.id} did not finish within {timeout}s")
            # One job's end wakes this; the rest are read again together.
            await self._queue.results.wait(pending[0], left)


def _build(shape: Shape, found: dict[str, JobInfo]) -> Any:
    if isinstance(shape, list):
        return [_build(member, found) for member in shape]
    return result_of(found[shape])


def _tags(queue: Queue) -> Tags:
    backend = queue.backend
    if not isinstance(backend, Tags):
        raise ConfigurationError(f"{queue.dsn} keeps no tags")
    return backend


async def enqueue(queue: Queue, node: Node, connection: Any = None) -> Workflow:
    """Enqueue every job of ``node`` in one transaction (all or none)."""
    planned = plan(node)
    await queue.enqueue_many(planned.requests, connection=connection)
    return Workflow(queue, planned.id, planned.shape)


async def load(queue: Queue, workflow_id: str) -> Workflow:
    """The workflow ``workflow_id``, its shape read back from its jobs;
    :class:`~aqueue.JobNotFound` when none of them is left."""
    places: dict[str, list[int]] = {}
    page = JobFilter(tag=group_tag(workflow_id), limit=_PAGE)
    while True:
        jobs = await queue.jobs.list(page, primary=True)
        for info in jobs:
            at = ((info.meta or {}).get(META_KEY) or {}).get("at") or {}
            path = at.get(workflow_id) if isinstance(at, dict) else None
            if isinstance(path, list):
                places[info.id] = path
        if len(jobs) < page.limit:
            break
        page = JobFilter(tag=page.tag, limit=_PAGE, before=jobs[-1].id)
    if not places:
        raise JobNotFound(f"no workflow {workflow_id} (never enqueued, or purged)")
    return Workflow(queue, workflow_id, _shape(places))


def _shape(places: dict[str, list[int]]) -> Shape:
    """The nested lists that put each job id at its path."""
    for job_id, path in places.items():
        if not path:
            return job_id
    root: list[Any] = []
    for job_id, path in sorted(places.items(), key=lambda item: item[1]):
        node = root
        for index in path[:-1]:
            while len(node) <= index:
                node.append([])
            node = node[index]
        while len(node) <= path[-1]:
            node.append([])
        node[path[-1]] = job_id
    return root
