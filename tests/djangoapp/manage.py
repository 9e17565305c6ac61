"""manage.py of the test project: run from the repository's root as
``python -m tests.djangoapp.manage COMMAND``."""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.djangoapp.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
