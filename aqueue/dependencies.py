"""Jobs that wait for other jobs: ``task.using(after=[job_a, job_b]).enqueue(...)``.

A child is stored queued but not due (``scheduled_at`` 9999-01-01, ``waiting``
counting its parents that have not ended) with one ``aqueue_job_deps`` row
per parent. When a parent ends, the transaction that records its end applies
it to the children: each success counts down, and a child whose count
reaches zero becomes due at once. A parent that fails for good or is
cancelled (or is deleted) cancels its children with a ``ParentFailed`` error
naming it, and theirs after them — unless a child was enqueued with
``on_parent_failure="run"``, which counts that end like a success. Nothing
polls the children: a worker's completion, a rescue, a cancel releases them.

At enqueue the parents' rows are locked (shared) while the child and its
edges are written, so a parent ending at the same moment either is seen
ended (and applied at once) or sees the edges (and applies itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aqueue.backends.ports import DependencyOps, ReleaseSteps
from aqueue.records import FINAL_STATUS_NAMES, Edge, EndedEdge, Related

if TYPE_CHECKING:
    from aqueue.task import JobRequest


def failure_message(parent: str, status: str | None) -> str:
    return f"parent job {parent} {status or 'deleted'}"


async def release(steps: ReleaseSteps, parents: Sequence[str]) -> bool:
    """Apply the ends of ``parents`` to their children, and of the children
    this cancels to theirs, until nothing changes; whether any child changed."""
    pending = list(dict.fromkeys(parents))
    changed = False
    while pending:
        edges = await steps.ended_edges(pending)
        if not edges:
            break
        changed = True
        await steps.mark_released(edges)
        ok: dict[str, int] = {}
        failed: dict[str, EndedEdge] = {}
        for e in edges:
            if e.parent_status == "succeeded" or e.run_on_failure:
                ok[e.child] = ok.get(e.child, 0) + 1
            else:
                failed.setdefault(e.child, e)
        pending = []
        for child, e in failed.items():
            if await steps.cancel_child(child, failure_message(e.parent, e.parent_status)):
                pending.append(child)
        for child, n in ok.items():
            if child not in failed:
                await steps.count_down(child, n)
    return changed


async def add_dependencies(ops: DependencyOps, edges: Sequence[Edge]) -> None:
    """Record ``edges`` for children just inserted as waiting, and apply at once
    the parents that have already ended. Raises ``ValueError`` (nothing is
    kept: the caller's transaction rolls back) for a parent that does not exist."""
    if not edges:
        return
    parents = sorted({e.parent for e in edges})
    statuses = await ops.lock_parents(parents)
    missing = [p for p in parents if p not in statuses]
    if missing:
        raise ValueError(
            f"after= names job {missing[0]}, which does not exist "
            f"(never enqueued, or already purged)"
        )
    await ops.insert_edges(edges)
    counts: dict[str, int] = {}
    for e in edges:
        counts[e.child] = counts.get(e.child, 0) + 1
    await ops.set_waiting(counts)
    ended = [p for p in parents if statuses[p] in FINAL_STATUS_NAMES]
    if ended:
        await ops.release(ended)


async def write_related(ops: DependencyOps, related: Related) -> None:
    """Write the edges, tags and batches of jobs just inserted, in their transaction."""
    edges = list(related.edges)
    if related.opened or related.members:
        # Imported here: producers that use no batch never load it.
        from aqueue.workflows.batches import member_edges, open_batches

        await open_batches(ops, related.opened)
        if related.members:
            edges += await member_edges(ops, related.members)
    await add_dependencies(ops, edges)
    if related.tags:
        await ops.insert_tags(related.tags)


def related_rows(requests: Sequence[JobRequest], ids: Sequence[str]) -> Related:
    """The edges and tags of a batch about to be written with ``ids``. Parents
    are ids: a request named in ``after`` got its id then, so a parent is
    always older than its child and no graph can hold a cycle."""
    edges = []
    tags = []
    members = []
    opened: dict[str, dict[str, str]] = {}
    for child, request in zip(ids, requests, strict=True):
        options = request.options
        run = options.on_parent_failure == "run"
        for parent in options.after:
            if parent == child:
                raise ValueError("a job cannot wait for itself")
            edges.append(Edge(child, parent, run))
        tags += options.tag_rows(child)
        if options.batch is not None:
            members.append((options.batch, child))
        if options.callback_for is not None:
            batch, on = options.callback_for
            opened.setdefault(batch, {})[on] = child
    return Related(tuple(edges), tuple(tags), tuple(members), tuple(opened.items()))
