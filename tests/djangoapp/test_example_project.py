"""examples/django_project as its users run it: manage.py's aqueue_migrate,
a view enqueueing, aqueue_worker --burst, the results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.djangoapp.conftest import ROOT

PROJECT = ROOT / "examples" / "django_project"


def manage(db: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        EXAMPLE_DB=str(db), AQUEUE_TRIGGER_TOKEN="example-trigger-token-0123", PYTHONPATH=str(ROOT)
    )
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_example_project_runs_its_tasks(tmp_path: Path) -> None:
    db = tmp_path / "example.db"
    assert "schema version" in manage(db, "aqueue_migrate")
    posted = manage(
        db,
        "shell",
        "-c",
        (
            "import json; from django.test import Client; "
            "print(json.dumps(Client().post('/notes/', {'text': 'three small words'}).json()))"
        ),
    )
    ids = json.loads(posted.strip().splitlines()[-1])
    manage(db, "aqueue_worker", "--burst", "--log-level", "WARNING")
    shown = manage(
        db,
        "shell",
        "-c",
        (
            "import json; from notes.tasks import notify, word_count; "
            f"print(json.dumps([word_count.get_result('{ids['word_count']}').return_value, "
            f"notify.get_result('{ids['notify']}').return_value]))"
        ),
    )
    assert json.loads(shown.strip().splitlines()[-1]) == [
        {"words": 3, "attempt": 1},
        "told team@example.com: three small words",
    ]
