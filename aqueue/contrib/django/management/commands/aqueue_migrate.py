"""``python manage.py aqueue_migrate``: create or update aqueue's tables."""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from aqueue.contrib.django.management.commands.aqueue_worker import backend_named
from aqueue.errors import AqueueError


class Command(BaseCommand):
    help = "Create or update aqueue's tables on the task backend's database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--backend",
            default="default",
            help="the TASKS alias whose database to migrate (default: default)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        queue = backend_named(options["backend"]).queue

        async def migrate() -> tuple[list[int], int | None]:
            try:
                await queue.open()  # SQLite migrates here already
                applied = await queue.migrate()
                return applied, (await queue.schema_versions())[0]
            finally:
                await queue.close()

        try:
            applied, version = asyncio.run(migrate())
        except AqueueError as exc:
            raise CommandError(str(exc)) from None
        done = f"applied {', '.join(map(str, applied))}; " if applied else ""
        self.stdout.write(f"aqueue's tables are at schema version {version} ({done}{queue.dsn})")
