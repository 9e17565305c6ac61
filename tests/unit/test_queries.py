"""The backends' SQL files: every query a backend uses exists, and placeholders
are filled one way, failing loudly on an unknown or unused one."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from aqueue.backends.sqlfile import Queries

BACKENDS = ["postgres", "mysql", "sqlite"]


@pytest.mark.parametrize("name", BACKENDS)
def test_every_query_a_backend_uses_is_in_its_file(name: str) -> None:
    module = importlib.import_module(f"aqueue.backends.{name}.core")
    package = Path(module.__file__ or "").parent
    source = "\n".join(path.read_text() for path in sorted(package.glob("*.py")))
    used = set(re.findall(r'SQL\[\s*"(\w+)"\s*\]', source))
    used |= set(re.findall(r'SQL\.render\(\s*"(\w+)"', source))
    assert used, "the scan found no query names: has the way queries are named changed?"
    queries: Queries = module.SQL
    assert used <= queries.names(), used - queries.names()
    # A name chosen at run time (``SQL[query]``) still appears quoted somewhere.
    named = {query for query in queries.names() if f'"{query}"' in source}
    assert queries.names() <= used | named, (
        f"queries.sql holds unused queries: {queries.names() - used - named}"
    )
    for query in used:  # and each renders: nothing left unfilled at load
        try:
            text = queries[query]
        except KeyError:
            continue  # filled when it is rendered (queries.render)
        assert "{{" not in text


def test_placeholders_fail_loudly() -> None:
    queries = Queries({"a": "SELECT {{X}} FROM t WHERE id IN ({{ids}})", "b": "SELECT 1"}, X="x")
    assert queries.render("a", ids="1, 2") == "SELECT x FROM t WHERE id IN (1, 2)"
    with pytest.raises(KeyError, match="needs a value"):
        queries["a"]
    with pytest.raises(KeyError, match="has no value"):
        queries.render("a")
    with pytest.raises(KeyError, match="no placeholder for extra"):
        queries.render("a", ids="1", extra="2")
    with pytest.raises(KeyError, match="used by no query: Y"):
        Queries({"a": "SELECT 1"}, Y="y")


def test_every_status_is_no_status_filter() -> None:
    # A union of a page per status index was 20 times slower on PostgreSQL
    # than the primary-key walk for the same rows (1M jobs, pages of 1,000).
    from aqueue.backends.common import list_jobs_sql
    from aqueue.records import JobFilter

    def sql(job_filter: JobFilter) -> str:
        return list_jobs_sql(job_filter, lambda value: "?", columns="id")[0]

    every = ("queued", "running", "succeeded", "failed", "cancelled")
    assert sql(JobFilter(statuses=every, limit=1000)) == sql(JobFilter(limit=1000))
    assert sql(JobFilter(statuses=every[:4])) != sql(JobFilter())
