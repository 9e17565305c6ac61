"""Print the shape of the code: how wide the database seam is, whether the
backends stay below the features, how big each module is, and how the tests
wait and what they read.

    python scripts/shape.py            # the figures
    python scripts/shape.py --check    # exit 1 when a limit is passed

Limits (see docs/architecture.md): no module of ``aqueue/`` over 700 lines,
``worker.py`` at most 500 and ``queue.py`` at most 450; no backend imports a
feature module; in ``tests/`` at most 10 sleeps used as waits and at most 10
reads of a private attribute, each with a comment (on its line or the line
above) saying why.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "aqueue"
TESTS = ROOT / "tests"

MAX_LINES = 700
LIMITS = {"worker.py": 500, "queue.py": 450}
MAX_SLEEPS = 10
MAX_PRIVATE_READS = 10
#: What a backend may import from aqueue besides its own package: the leaves
#: every layer shares. Anything else is a feature, which must not be below it.
LEAVES = {
    "aqueue.records",
    "aqueue.errors",
    "aqueue.serialization",
    "aqueue.validation",
    "aqueue.dsn",
    "aqueue.escape",
    "aqueue.ids",
    "aqueue.node",
    "aqueue._version",
    "aqueue.loop_lock",
}


@dataclass
class Finding:
    path: Path
    line: int
    text: str
    explained: bool

    def __str__(self) -> str:
        mark = "" if self.explained else "   <- no comment says why"
        return f"  {self.path.relative_to(ROOT)}:{self.line}: {self.text.strip()}{mark}"


def seam() -> list[tuple[str, int]]:
    """Each protocol of aqueue/backends/base.py and how many operations it has."""
    tree = ast.parse((PACKAGE / "backends" / "base.py").read_text())
    sizes = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(
            isinstance(b, ast.Name) and b.id == "Protocol" for b in node.bases
        ):
            ops = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
            sizes.append((node.name, len(ops)))
    return sizes


def imported(path: Path) -> list[tuple[int, str]]:
    """The aqueue modules a file imports (at run time: not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] == "aqueue"]


def backend_feature_imports() -> list[str]:
    wrong = []
    for path in sorted((PACKAGE / "backends").rglob("*.py")):
        for line, module in imported(path):
            if module.startswith("aqueue.backends") or module in LEAVES or module == "aqueue":
                continue
            wrong.append(f"  {path.relative_to(ROOT)}:{line}: imports {module}")
    return wrong


def sizes() -> list[tuple[Path, int]]:
    return sorted(
        ((p, len(p.read_text().splitlines())) for p in PACKAGE.rglob("*.py")),
        key=lambda item: -item[1],
    )


_PRAGMAS = re.compile(r"#\s*(type:\s*ignore\S*|noqa\S*(\s*-)?)")


def _commented(lines: list[str], lineno: int) -> bool:
    """Whether a comment (not only a ``type: ignore``/``noqa`` pragma) is on the
    line or just above it."""
    here = _PRAGMAS.sub("", lines[lineno - 1].split('"')[-1])
    above = lines[lineno - 2].strip() if lineno > 1 else ""
    return bool(re.search(r"#\s*\w", here)) or above.startswith("#")


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    parent = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parent[id(child)] = node
    return parent


def _task_like(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Decorated by something other than pytest (``@queue.task``, ``@app.task``):
    a task, whose sleeps are its work."""
    return any(not ast.unparse(d).startswith("pytest.") for d in function.decorator_list)


def sleeps_as_waits() -> tuple[list[Finding], int]:
    """``asyncio.sleep``/``time.sleep`` of more than zero in a test's own code:
    not in a task (a function defined inside a test, a decorated one, or a
    method of a helper class tasks call) that takes its time, and not in a
    loop that polls for a condition (counted apart). Returns the waits and
    the number of polls."""
    found = []
    polls = 0
    for path in sorted(TESTS.rglob("*.py")):
        text = path.read_text()
        lines = text.splitlines()
        tree = ast.parse(text)
        parent = _parents(tree)
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "sleep"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("asyncio", "time")
            ):
                continue
            if node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == 0:
                continue  # a turn of the event loop, not a wait
            functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
            in_loop = in_class = False
            at: ast.AST | None = node
            while at is not None:
                if isinstance(at, ast.FunctionDef | ast.AsyncFunctionDef):
                    functions.append(at)
                elif isinstance(at, ast.ClassDef) and not at.name.startswith("Test"):
                    in_class = True
                elif isinstance(at, ast.For | ast.AsyncFor | ast.While) and not functions:
                    in_loop = True
                at = parent.get(id(at))
            if len(functions) != 1 or _task_like(functions[0]) or in_class:
                continue  # a task (or a helper of tasks) taking its time: work, not a wait
            if in_loop:
                polls += 1
                continue
            found.append(
                Finding(path, node.lineno, lines[node.lineno - 1], _commented(lines, node.lineno))
            )
    return found, polls


def private_reads() -> list[Finding]:
    """``thing._name`` in tests, where ``thing`` is not the test's own
    ``self``/``cls`` nor the standard library's ``os``/``sys`` (``os._exit``)."""
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        text = path.read_text()
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (
                    isinstance(node.value, ast.Name)
                    and node.value.id in ("self", "cls", "os", "sys")
                )
            ):
                found.append(
                    Finding(
                        path, node.lineno, lines[node.lineno - 1], _commented(lines, node.lineno)
                    )
                )
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a limit is passed")
    args = parser.parse_args()
    failures = []

    protocols = seam()
    core = dict(protocols).get("Backend", 0)
    print(
        f"seam: Backend has {core} operations; capabilities: "
        + ", ".join(f"{name} {count}" for name, count in protocols if name != "Backend")
    )

    wrong = backend_feature_imports()
    print(f"backend -> feature imports: {len(wrong)}")
    print("\n".join(wrong)) if wrong else None
    if wrong:
        failures.append("a backend imports a feature module")

    measured = sizes()
    total = sum(n for _, n in measured)
    print(f"aqueue/: {len(measured)} modules, {total} lines; largest:")
    for path, count in measured[:8]:
        print(f"  {count:5d}  {path.relative_to(ROOT)}")
    for path, count in measured:
        limit = LIMITS.get(path.name) if path.parent == PACKAGE else None
        if count > (limit or MAX_LINES):
            failures.append(
                f"{path.relative_to(ROOT)} has {count} lines (limit {limit or MAX_LINES})"
            )
    for name, limit in LIMITS.items():
        count = dict((p.name, n) for p, n in measured if p.parent == PACKAGE)[name]
        print(f"  {name}: {count} lines (limit {limit})")

    waits, polls = sleeps_as_waits()
    print(f"tests/ loops that sleep between looks (polls) or pace a load or fault: {polls}")
    for what, findings, limit in (
        ("sleeps used as waits", waits, MAX_SLEEPS),
        ("private reads", private_reads(), MAX_PRIVATE_READS),
    ):
        print(f"tests/ {what}: {len(findings)} (limit {limit})")
        for finding in findings:
            print(finding)
        if len(findings) > limit:
            failures.append(f"{len(findings)} {what} in tests/ (limit {limit})")
        if any(not f.explained for f in findings):
            failures.append(f"{what} in tests/ without a comment saying why")

    for failure in failures:
        print(f"LIMIT: {failure}", file=sys.stderr)
    return 1 if failures and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
