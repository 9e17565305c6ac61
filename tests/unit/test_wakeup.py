"""The local wake-up channel (aqueue.backends.wakeup) with real Unix sockets."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

from aqueue.backends.wakeup import WakeListener, WakeSender, channel_directory


class Heard:
    def __init__(self) -> None:
        self.new: list[str] = []
        self.done: list[list[str] | None] = []
        self.cancel: list[str] = []
        self.event = asyncio.Event()

    def listener(self, directory: Path) -> WakeListener:
        def on_new(text: str) -> None:
            self.new.append(text)
            self.event.set()

        def on_done(ids: list[str] | None) -> None:
            self.done.append(ids)
            self.event.set()

        def on_cancel(job_id: str) -> None:
            self.cancel.append(job_id)
            self.event.set()

        return WakeListener(directory, on_new, on_done, on_cancel)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0.01)


def test_the_channel_lives_beside_the_database_file(tmp_path: Path) -> None:
    assert channel_directory(str(tmp_path / "jobs.db")) == Path(
        os.path.realpath(tmp_path / "jobs.db") + "-wake"
    )
    assert channel_directory(":memory:") is None


def test_a_path_too_long_for_a_socket_gets_a_short_directory(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120) / "jobs.db"
    directory = channel_directory(str(deep))
    assert directory is not None and len(os.fsencode(directory)) < 80
    # The same file gives every process the same directory.
    assert channel_directory(str(deep)) == directory


async def test_every_listener_hears_every_hint(tmp_path: Path) -> None:
    directory = tmp_path / "jobs.db-wake"
    first, second = Heard(), Heard()
    one, two = first.listener(directory), second.listener(directory)
    sender = WakeSender(directory)
    try:
        sender.new([("default", 0.0), ("mail queue", 1.5)])
        sender.done(["a", "b"])
        sender.done(None)
        sender.cancel("c")
        await settle()
        for heard in (first, second):
            assert heard.new == ["default 0.000", "mail queue 1.500"]
            assert heard.done == [["a", "b"], None]
            assert heard.cancel == ["c"]
    finally:
        sender.close()
        await one.close()
        await two.close()
    assert list(directory.iterdir()) == []  # closing unlinks its socket


async def test_a_dead_listeners_socket_is_removed_and_the_rest_still_hear(tmp_path: Path) -> None:
    directory = tmp_path / "jobs.db-wake"
    directory.mkdir()
    # What a SIGKILLed worker leaves: a socket file nobody reads.
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(directory / "999-deadbeef.sock"))
    dead.close()
    heard = Heard()
    alive = heard.listener(directory)
    sender = WakeSender(directory)
    try:
        sender.new([("default", 0.0)])
        await asyncio.wait_for(heard.event.wait(), 5)
        assert heard.new == ["default 0.000"]
        assert not (directory / "999-deadbeef.sock").exists()
    finally:
        sender.close()
        await alive.close()


async def test_garbage_is_ignored_and_the_listener_keeps_listening(tmp_path: Path) -> None:
    directory = tmp_path / "jobs.db-wake"
    heard = Heard()
    listener = heard.listener(directory)
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        for junk in (b"", b"\xff\xfe\x00", b"x" * 70_000, b"zzz"):
            try:
                raw.sendto(junk, str(listener.path))
            except OSError:
                pass  # too long for a datagram: never sent
        await settle()
        assert heard.new == [] and heard.done == [] and heard.cancel == []
        WakeSender(directory).new([("default", 0.0)])
        await asyncio.wait_for(heard.event.wait(), 5)
        assert heard.new == ["default 0.000"]
    finally:
        raw.close()
        await listener.close()


def test_nobody_listening_costs_nothing_and_raises_nothing(tmp_path: Path) -> None:
    sender = WakeSender(tmp_path / "nowhere")
    sender.new([("default", 0.0)])
    sender.done(["x"])
    sender.close()
