"""The bounded buffer an attempt's output is kept in, and the proxies that
route what running code writes to it (pure logic: no database, no worker)."""

from __future__ import annotations

import asyncio
import logging
import sys

import pytest

from aqueue._worker.output import Captured, capturing, storable


def test_nothing_written_stores_nothing() -> None:
    assert Captured("j", 1).entry() is None


def test_under_the_limit_everything_is_kept_in_order() -> None:
    out = Captured("j", 2, limit=100)
    for part in ["a", "bc\n", "", "d"]:
        out.write(part)
    entry = out.entry()
    assert entry is not None
    assert (entry.job_id, entry.attempt, entry.text, entry.cut) == ("j", 2, "abc\nd", 0)


def test_over_the_limit_the_first_and_last_halves_are_kept_around_a_marker() -> None:
    out = Captured("j", 1, limit=10)
    for n in range(10):
        out.write(f"{n}{n}{n}\n")  # 40 bytes
    entry = out.entry()
    assert entry is not None and entry.cut == 30
    assert entry.text == "000\n1\n[... 30 bytes of output cut here ...]\n\n999\n"


def test_one_huge_write_is_cut_too() -> None:
    out = Captured("j", 1, limit=8)
    out.write("abcdefghijklmnopqrstuvwxyz")
    entry = out.entry()
    assert entry is not None
    assert entry.text == "abcd\n[... 18 bytes of output cut here ...]\nwxyz" and entry.cut == 18


def test_cuts_fall_between_characters_never_inside_one() -> None:
    out = Captured("j", 1, limit=8)
    out.write("ééééé")  # two bytes each: 10 bytes, 8 kept at most
    out.write("ééééé")
    entry = out.entry()
    assert entry is not None
    head, _, tail = entry.text.partition("\n[...")
    assert head == "éé" and tail.endswith("\néé")
    assert len(head.encode()) + len("éé".encode()) + entry.cut == 20


def test_what_no_database_stores_is_escaped() -> None:
    assert storable("a\x00b") == "a\\x00b"
    assert storable("file \udcff") == "file \\udcff"


def test_a_write_that_is_not_text_is_refused_as_a_stream_would() -> None:
    with pytest.raises(TypeError, match="must be str"):
        Captured("j", 1).write(b"bytes")  # type: ignore[arg-type]


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        Captured("j", 1, limit=1)


async def test_side_by_side_code_writes_to_its_own_sink_and_the_rest_to_the_stream(
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second = Captured("a", 1), Captured("b", 1)

    async def talk(sink: Captured, tag: str) -> None:
        with capturing(sink):
            for n in range(3):
                print(f"{tag}{n}")
                sys.stderr.write(f"{tag}!\n")
                await asyncio.sleep(0)
            await asyncio.to_thread(print, f"{tag} thread")
            logging.getLogger("unit.output").warning("%s logged", tag)

    await asyncio.gather(talk(first, "a"), talk(second, "b"))
    print("nobody's")
    a, b = first.entry(), second.entry()
    assert a is not None and b is not None
    assert a.text.startswith("a0\na!\na1\na!\na2\na!\na thread\n")
    assert a.text.rstrip().endswith("WARNING unit.output: a logged") and "b" not in a.text[:30]
    assert b.text.startswith("b0\nb!\nb1\nb!\nb2\nb!\nb thread\n")
    assert "nobody's" in capsys.readouterr().out
