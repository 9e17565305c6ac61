"""The public API's types, as mypy sees a user's code: an async task's job
result is what the coroutine returns, and ``takes_context`` hides the context."""

from __future__ import annotations

from pathlib import Path

from mypy import api

USER_CODE = """
import aqueue

queue = aqueue.Queue()

@queue.task
async def plain(x: int) -> str:
    return str(x)

@queue.task(name="opts", priority=3)
async def with_options(x: int) -> list[int]:
    return [x]

@queue.task(takes_context=True)
async def with_context(ctx: aqueue.JobContext, x: int) -> float:
    return float(x)

@queue.task
def sync(x: int) -> bytes:
    return b""

async def main() -> None:
    reveal_type(await (await plain.enqueue(1)).result())
    reveal_type(await (await with_options.enqueue(1)).result())
    reveal_type(await (await with_context.enqueue(1)).result())
    reveal_type(await (await sync.enqueue(1)).result())
    await plain.enqueue("not an int")
"""


def test_job_results_are_typed_as_the_task_returns(tmp_path: Path) -> None:
    source = tmp_path / "user_code.py"
    source.write_text(USER_CODE)
    out, _err, _status = api.run(["--strict", "--no-incremental", str(source)])
    revealed = [
        line.split("Revealed type is ")[1].strip('"')
        for line in out.splitlines()
        if "Revealed type is" in line
    ]
    assert [r.replace("builtins.", "") for r in revealed] == [
        "str",
        "list[int]",
        "float",
        "bytes",
    ], out
    assert 'incompatible type "str"; expected "int"' in out
