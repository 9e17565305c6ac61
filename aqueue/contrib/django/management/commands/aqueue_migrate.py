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
        parser.add_argument("--backend", default="default",
                            help="the TASKS alias whose database to migrate (default: default)")

    def handle(self, *args: Any, **options: Any) -> None:
        queue = backend_named(options["backend"]).queue

        async def migrate() -> list[int]:
            try:
                await queue.open()
                return await queue.migrate()
            finally:
                await queue.close()

        try:
            applied = asyncio.run(migrate())
        except AqueueError as exc:
            raise CommandError(str(exc)) from None
        if applied:
            self.stdout.write(f"applied aqueue migrations {', '.join(map(str, applied))} "
                              f"on {queue.dsn}")
        else:
            self.stdout.write(f"aqueue's tables are up to date on {queue.dsn}")
