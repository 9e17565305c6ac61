"""Which Django tasks a job may name: the project's own, never a module a
job row names.

A job row is data. Its task path is looked up only among tasks of modules the
project itself loads: each installed app's ``tasks`` module (found once, the
way Django's admin finds ``admin`` modules) and its submodules, and the
modules listed in the backend's ``OPTIONS["task_modules"]``. Nothing is
imported because a row names it.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Sequence

from django.apps import apps
from django.tasks import Task as DjangoTask
from django.utils.module_loading import autodiscover_modules


class ProjectTasks:
    """The project's task modules, loaded once; lookups by module path."""

    def __init__(self, extra_modules: Sequence[str] = ()) -> None:
        self._extra = tuple(extra_modules)
        self._roots: tuple[str, ...] | None = None
        self._lock = threading.Lock()

    def roots(self) -> tuple[str, ...]:
        """The task modules (each with its submodules), imported the first time."""
        with self._lock:
            if self._roots is None:
                autodiscover_modules("tasks")
                for name in self._extra:
                    importlib.import_module(name)
                found = [f"{config.name}.tasks" for config in apps.get_app_configs()]
                self._roots = tuple(name for name in (*found, *self._extra) if name in sys.modules)
            return self._roots

    def _allowed(self, module: str) -> bool:
        return any(module == root or module.startswith(root + ".") for root in self.roots())

    def find(self, path: str) -> DjangoTask | None:
        """The Django task at module path ``path``, if it is one of the project's."""
        if not isinstance(path, str):
            return None
        module_name, _, attribute = path.rpartition(".")
        module = sys.modules.get(module_name)
        if module is None or not self._allowed(module_name):
            return None
        try:
            found = getattr(module, attribute, None)
        except Exception:  # a module __getattr__ that raises: not a task
            return None
        if isinstance(found, DjangoTask) and found.module_path == path:
            return found
        return None
