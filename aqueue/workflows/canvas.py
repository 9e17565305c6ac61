"""Chains, groups and chords: graphs of jobs enqueued in one transaction.

A workflow is built from prepared jobs (``task.prepare(...)``)::

    chain(a.prepare(1), b.prepare(), c.prepare())   # b gets a's result, c gets b's
    group([a.prepare(1), a.prepare(2)])             # side by side
    chord(group([...]), total.prepare())            # total gets the group's results

and they nest. :func:`plan` turns one into plain job requests on the
dependency edges of :mod:`aqueue.dependencies`: each link waits, with
``after=``, for the jobs whose results it receives. What a job receives is
written in its ``meta`` as a *shape*: a job id (that job's result) or a list
of shapes (a group's results, in order). The worker reads the results from
storage when the job starts (:mod:`aqueue.workflows.inputs`), so a callback
works on any worker, after any restart.

Every job of a workflow is tagged with each group it lies in and with the
workflow's id (``aqueue:group:<id>``), which is how a handle counts, cancels
and reads them back; a job that ends a group member (whose result is the
member's) records its place there (``meta["workflow"]["at"]``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Union

from aqueue import serialization
from aqueue.ids import new_job_ids
from aqueue.records import WORKFLOW_META_KEY
from aqueue.task import JobRequest

#: What a job receives: a job id (that job's result) or a list of shapes.
Shape = Union[str, list["Shape"]]  # noqa: UP007 - a recursive alias needs Union at runtime
#: The key of ``meta`` a workflow's facts about a job are stored under.
META_KEY = WORKFLOW_META_KEY


@dataclass(frozen=True, slots=True)
class Chain:
    """Links run one after another, each given the previous link's result
    as its first argument. Made by :func:`chain`."""

    nodes: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Group:
    """Members run side by side; the group's result is the list of theirs,
    in order. Made by :func:`group`."""

    nodes: tuple[Node, ...]


Node = Union[JobRequest, Chain, Group]  # noqa: UP007 - used at runtime by isinstance


def _check(node: object) -> Node:
    if isinstance(node, JobRequest | Chain | Group):
        return node
    raise TypeError(
        "a workflow is made of prepared jobs (task.prepare(...)), chains and groups, "
        f"not {type(node).__name__}"
    )


def chain(*nodes: Node) -> Chain:
    """Run ``nodes`` one after another, each given the previous one's result
    (a group's: the list of its members' results) as its first argument."""
    if not nodes:
        raise ValueError("a chain needs at least one job")
    return Chain(tuple(_check(n) for n in nodes))


def group(nodes: Iterable[Node]) -> Group:
    """Run ``nodes`` side by side; their results, in order, are the group's."""
    if isinstance(nodes, JobRequest | Chain | Group):
        raise TypeError("group() takes a list of jobs: group([a.prepare(), b.prepare()])")
    members = tuple(_check(n) for n in nodes)
    if not members:
        raise ValueError("a group needs at least one job")
    return Group(members)


def chord(header: Group | Iterable[Node], callback: Node) -> Chain:
    """Run ``header`` (a group, or a list of jobs) and then ``callback``, given
    the list of the header's results in order."""
    members = header if isinstance(header, Group) else group(header)
    return chain(members, callback)


@dataclass(slots=True)
class _Placed:
    request: JobRequest
    parents: tuple[str, ...]
    receives: Shape | None
    groups: tuple[str, ...]
    link: int | None
    at: dict[str, list[int]] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    """A workflow as job requests to enqueue together, and the shape of its result."""

    id: str
    requests: list[JobRequest]
    shape: Shape


def exits(shape: Shape) -> list[str]:
    """The ids of the jobs whose results make up ``shape``, in order."""
    if isinstance(shape, str):
        return [shape]
    return [job_id for member in shape for job_id in exits(member)]


def _paths(shape: Shape, prefix: list[int]) -> Iterable[tuple[str, list[int]]]:
    if isinstance(shape, str):
        yield shape, prefix
        return
    for i, member in enumerate(shape):
        yield from _paths(member, [*prefix, i])


class _Planner:
    def __init__(self) -> None:
        self.placed: dict[str, _Placed] = {}

    def place(
        self,
        node: Node,
        parents: tuple[str, ...],
        receives: Shape | None,
        groups: tuple[str, ...],
        link: int | None = None,
    ) -> Shape:
        if isinstance(node, JobRequest):
            if node.options.unique_key is not None:
                # A taken key would enqueue nothing, and cut the graph there.
                raise ValueError(
                    f"a workflow's jobs cannot have unique keys ({node.task} has "
                    f"{node.options.unique_key!r})"
                )
            # Ids in the order of placing: a group's members sort as given.
            job_id = node.job_id or new_job_ids(1)[0]
            if job_id in self.placed:
                raise ValueError(f"a prepared job appears twice in a workflow ({node.task})")
            self.placed[job_id] = _Placed(node, parents, receives, groups, link)
            return job_id
        if isinstance(node, Chain):
            shape: Shape | None = receives
            for i, member in enumerate(node.nodes):
                shape = self.place(member, parents, shape, groups, i)
                parents = tuple(exits(shape))
            assert shape is not None
            return shape
        group_id = new_job_ids(1)[0]
        # A member stands where its group stands in the chain around them.
        shapes = [self.place(m, parents, receives, (*groups, group_id), link) for m in node.nodes]
        self.mark(group_id, shapes)
        return shapes

    def mark(self, group_id: str, shape: Shape) -> None:
        """Record where each job whose result is part of ``shape`` stands in it."""
        for job_id, path in _paths(shape, []):
            self.placed[job_id].at[group_id] = path


def plan(node: Node) -> Plan:
    """The requests that enqueue ``node``, in an order where every parent
    comes before its children; raises ``ValueError``/``TypeError`` for a
    workflow that cannot be built (nothing is enqueued)."""
    planner = _Planner()
    workflow_id = new_job_ids(1)[0]
    root = _check(node)
    shape = planner.place(root, (), None, (workflow_id,))
    planner.mark(workflow_id, shape)
    requests = []
    for job_id, placed in planner.placed.items():
        requests.append(_request(job_id, placed, workflow_id))
    return Plan(workflow_id, requests, shape)


def _request(job_id: str, placed: _Placed, workflow_id: str) -> JobRequest:
    # "groups" lets an import rebuild the group tags (see ImportedJob.tag_rows).
    facts: dict[str, Any] = {"id": workflow_id, "groups": list(placed.groups)}
    if placed.receives is not None:
        facts["receives"] = placed.receives
    if placed.link is not None:
        facts["link"] = placed.link
    if placed.at:
        facts["at"] = placed.at
    options = placed.request.options
    if placed.parents and (options.delay or options.run_after is not None):
        raise ValueError(
            f"{placed.request.task} waits for earlier links, and becomes due when "
            "they end: delay and run_after do not apply to it"
        )
    meta = serialization.decode(options.meta) if options.meta is not None else {}
    options = dataclasses.replace(
        options,
        after=(*options.after, *(p for p in placed.parents if p not in options.after)),
        groups=(*options.groups, *placed.groups),
        meta=serialization.encode({**meta, META_KEY: facts}),
    )
    return dataclasses.replace(placed.request, options=options, job_id=job_id)
