"""The handle a producer gets back from ``enqueue``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aqueue.errors import JobCancelled, JobFailed, JobNotFound
from aqueue.records import JobInfo, JobStatus

if TYPE_CHECKING:
    from aqueue.queue import Queue

R = TypeVar("R")


class Job(Generic[R]):
    """A reference to one job by id. Cheap to create; reads go to the database."""

    __slots__ = ("_queue", "id")

    @property
    def queue(self) -> Queue:
        """The queue this job was enqueued through."""
        return self._queue

    def __init__(self, queue: Queue, job_id: str) -> None:
        self._queue = queue
        self.id = job_id

    def __repr__(self) -> str:
        return f"<aqueue.Job {self.id}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    async def refresh(self) -> JobInfo:
        """The job as the database holds it now; :class:`JobNotFound` if purged."""
        info = await self._queue.get_job(self.id)
        if info is None:
            raise JobNotFound(f"no job {self.id} (never enqueued, or purged)")
        return info

    async def status(self) -> JobStatus:
        """The job's current status."""
        return (await self.refresh()).status

    async def result(self, timeout: float | None = None) -> R:
        """Wait until the job ends and return its result.

        Raises :class:`JobFailed` or :class:`JobCancelled`, or ``TimeoutError``
        when ``timeout`` seconds pass first.
        """
        info = await self._queue.results.wait(self.id, timeout)
        result: R = result_of(info)
        return result

    def result_sync(self, timeout: float | None = None) -> R:
        """:meth:`result` for code without an event loop."""
        from aqueue.sync import require_no_running_loop

        require_no_running_loop("result_sync()", "await job.result()")
        info = self._queue.sync_bridge().call(lambda q: q.results.wait(self.id, timeout))
        result: R = result_of(info)
        return result

    async def cancel(self) -> JobStatus:
        """Cancel a queued job, or ask its worker to stop a running one.

        Returns the status after the call: ``cancelled`` for a queued job,
        ``running`` while a running job is being stopped, or the final status
        of a job that had already ended.
        """
        status = await self._queue.jobs.cancel(self.id)
        if status is None:
            raise JobNotFound(f"no job {self.id} (never enqueued, or purged)")
        return status


def result_of(info: JobInfo) -> Any:
    """The result of an ended job, or the error its end raises."""
    if info.status == JobStatus.SUCCEEDED:
        return info.result
    if info.status == JobStatus.CANCELLED:
        raise JobCancelled(info.id)
    error = info.error or {}
    raise JobFailed(
        info.id,
        str(error.get("type", "Error")),
        str(error.get("message", "")),
        error.get("traceback"),
    )
