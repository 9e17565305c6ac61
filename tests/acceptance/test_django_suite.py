"""Runs the Django tests (tests/djangoapp) from the main suite: Django 6 needs
Python >= 3.12, so they run in an environment of their own (``.venv-django``,
made here if missing), once per database. In CI they must run; on a laptop
without Python 3.12 they are skipped, saying why."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.databases import IN_CI

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("AQUEUE_DJANGO_VENV", ROOT / ".venv-django"))

try:
    import django

    DJANGO_HERE = django.VERSION >= (6, 0)
except ImportError:
    DJANGO_HERE = False


def _works(python: str) -> bool:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; assert sys.version_info >= (3, 12)"],
            capture_output=True,
            timeout=30,
        )
    except OSError:
        return False
    return done.returncode == 0


def python_312() -> str | None:
    """An interpreter new enough for Django 6 (pyenv's shims of versions not
    selected do not run: each candidate is tried)."""
    candidates = [os.environ.get("AQUEUE_DJANGO_PYTHON", "")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python")))
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python")))
    candidates += [shutil.which(name) or "" for name in ("python3.12", "python3.13")]
    return next((c for c in candidates if c and _works(c)), None)


def django_python() -> str:
    """The environment's interpreter, made (aqueue with its django extra, and
    Django's drivers for the three databases) when missing."""
    python = VENV / "bin" / "python"
    # Written once the install succeeded: an environment whose install failed
    # (a driver that did not build) is made again, not reused half-made.
    # (One named by AQUEUE_DJANGO_VENV is the user's: used as it is.)
    made = VENV / ".aqueue-complete"
    if python.exists() and (made.exists() or "AQUEUE_DJANGO_VENV" in os.environ):
        return str(python)
    shutil.rmtree(VENV, ignore_errors=True)
    base = python_312()
    if base is None:
        message = (
            "the Django tests need Python >= 3.12 (Django 6): none found; set "
            "AQUEUE_DJANGO_PYTHON to one"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    subprocess.run([base, "-m", "venv", str(VENV)], check=True, timeout=120)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "-e",
            f"{ROOT}[django,test,web]",
            "psycopg[binary]>=3.2",
            "mysqlclient>=2.2",
        ],
        check=True,
        timeout=900,
    )
    made.touch()
    return str(python)


@pytest.mark.skipif(
    DJANGO_HERE, reason="Django 6 is installed here: tests/djangoapp runs directly in this session"
)
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("database", ["postgresql", "mysql", "sqlite"])
def test_django_suite(database: str, tmp_path: Path) -> None:
    python = django_python()
    env = {
        **os.environ,
        "AQUEUE_DJANGO_DB": database,
        "AQUEUE_DJANGO_SQLITE": str(tmp_path / "django.db"),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [
            python,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "tests/djangoapp",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1100,
    )
    print(done.stdout[-5000:], done.stderr[-3000:])
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout
    assert sys.executable != python
