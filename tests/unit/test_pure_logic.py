"""Pure logic: ids, backoff, serialisation, SQL files, durations."""

from __future__ import annotations

import argparse
import json
import uuid

import pytest

from aqueue.backends.sqlfile import latest_version, load_migrations, load_queries
from aqueue.backoff import Backoff
from aqueue.cli.worker import parse_duration
from aqueue.errors import PayloadTooLarge
from aqueue.ids import new_job_id, new_job_ids
from aqueue.serialization import encode_arguments, encode_result


def test_job_ids_are_uuid7_and_time_ordered() -> None:
    ids = [new_job_id() for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert all(uuid.UUID(i).version == 7 for i in ids)
    # Ordered by millisecond: the first 13 hex digits never go backwards.
    prefixes = [i.replace("-", "")[:12] for i in ids]
    assert prefixes == sorted(prefixes)


def test_job_ids_increase_across_calls_within_a_millisecond() -> None:
    # Jobs enqueued one by one in the same millisecond, with equal due times,
    # are claimed in id order: ids must keep the order they were made in.
    ids = [new_job_id() for _ in range(5000)]
    ids += new_job_ids(5000)
    ids += [new_job_id() for _ in range(100)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_backoff_grows_caps_and_jitters() -> None:
    exact = Backoff(base=2, factor=3, max_delay=100, jitter=0)
    assert [exact.delay(n) for n in (1, 2, 3, 4, 5)] == [2, 6, 18, 54, 100]
    spread = {round(Backoff(base=10, jitter=0.5).delay(1), 6) for _ in range(50)}
    assert len(spread) > 10 and all(5 <= d <= 15 for d in spread)
    with pytest.raises(ValueError):
        Backoff(factor=0.5)


def test_encode_arguments_and_limits() -> None:
    assert encode_arguments("t", (1, "é"), {"k": [None]}, 100) == ('[1,"é"]', '{"k":[null]}')
    with pytest.raises(PayloadTooLarge):
        encode_arguments("t", ("x" * 50,), {}, 40)
    with pytest.raises(TypeError, match="positional argument 0"):
        encode_arguments("t", (float("inf"),), {}, 100)
    assert encode_result({"a": 1}, 100) == '{"a":1}'
    with pytest.raises(TypeError, match="returned a bytes"):
        encode_result(b"x", 100)


def test_every_backend_ships_its_queries_and_migrations() -> None:
    for backend in ("postgres", "mysql", "sqlite"):
        package = f"aqueue.backends.{backend}"
        queries = load_queries(package)
        assert {
            "renew_leases",
            "rescue_expired_leases",
            "get_job",
            "queue_counts",
            "recent_finished",
            "delete_job",
        } <= set(queries)
        assert all(sql.strip() for sql in queries.values())
        migrations = load_migrations(package)
        assert [m.version for m in migrations] == list(range(1, latest_version(package) + 1))
        assert any("CREATE TABLE aqueue_jobs" in s for s in migrations[0].statements)


def test_parse_duration() -> None:
    assert parse_duration("7d") == 604800
    assert parse_duration("12h") == 43200
    assert parse_duration("90") == 90
    assert parse_duration("1.5m") == 90
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration("soon")


def test_migration_statements_keep_function_bodies_whole() -> None:
    from aqueue.backends.sqlfile import _split_statements

    text = (
        "CREATE TABLE t (a int);\n-- a comment\nCREATE FUNCTION f() RETURNS int\n"
        "LANGUAGE plpgsql AS $$\nBEGIN\n    PERFORM 1;\n    RETURN 1;\nEND\n$$;\n"
        "CREATE INDEX i ON t (a);\n"
    )
    statements = _split_statements(text)
    assert len(statements) == 3
    assert statements[1].startswith("-- a comment\nCREATE FUNCTION")
    assert statements[1].endswith("END\n$$") and "PERFORM 1;" in statements[1]


def test_json_encoding_matches_the_json_module_and_rejects_what_it_rejects() -> None:
    import json

    import pytest

    from aqueue.serialization import _encode

    for value in ([1, "é", None, True, 1.5, {"a": [1, 2]}], (1, 2), {}, "x", {1: 2}):
        assert _encode(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    loop: list[object] = []
    loop.append(loop)
    for bad in (loop, float("nan"), {1, 2}, b"x", {(1, 2): 3}):
        with pytest.raises((TypeError, ValueError)):
            _encode(bad)


def test_parse_retention() -> None:
    from aqueue.cli.worker import parse_retention

    assert parse_retention("succeeded=7d, failed=30d") == {"succeeded": 604800, "failed": 2592000}
    for bad in ("queued=1d", "failed", "failed=soon"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_retention(bad)


def test_a_handover_notification_is_read_only_by_its_worker() -> None:
    from aqueue.backends.common import claimed_jobs
    from aqueue.offers import read_handover

    job = [
        "w1",
        12.5,
        "0190-id",
        "mark",
        "default",
        0,
        "[1]",
        '{"a": 2}',
        1,
        3,
        None,
        1700000000.5,
        None,
    ]
    got = read_handover(json.dumps(job), "w1")
    assert got is not None and got[0] == 12.5 and isinstance(got[1], tuple)
    [claimed] = claimed_jobs([got[1]])
    assert (
        claimed.id,
        claimed.task,
        claimed.args,
        claimed.kwargs,
        claimed.attempts,
        claimed.max_attempts,
    ) == ("0190-id", "mark", [1], {"a": 2}, 1, 3)
    assert claimed.due_timestamp() == 1700000000.5
    assert read_handover(json.dumps(job), "w2") is None  # another worker's
    assert read_handover(json.dumps(["w1", 3, "0190-id"]), "w1") == (3.0, "0190-id")  # id alone
    for garbage in (
        "",
        "not json",
        "{}",
        "[]",
        '["w1"]',
        json.dumps(job[:5]),
        json.dumps(["w1", "soon", "0190-id"]),
    ):
        assert read_handover(garbage, "w1") is None


def test_shown_and_imported_errors_are_bounded_too() -> None:
    """Rows written around aqueue (or before errors were bounded) may hold any
    size: the dashboard and imports bound them as new errors are."""
    from aqueue import serialization

    huge = {
        "type": "E" * 1000,
        "message": "m" * 1_000_000,
        "traceback": "t" * 1_000_000,
        "extra": 1,
    }
    shown = serialization.bounded_error(huge)
    assert shown is not None and shown["extra"] == 1
    assert len(shown["type"]) < 300 and len(shown["message"]) < 9_000
    assert len(shown["traceback"]) < 66_000
    assert serialization.bounded_error(None) is None
    small = {"type": "ValueError", "message": "bad", "traceback": None}
    assert serialization.bounded_error(small) == small
