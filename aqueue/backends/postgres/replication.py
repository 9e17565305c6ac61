"""PostgreSQL: how far a standby's replay is behind (the Replication capability)."""

from __future__ import annotations

from aqueue.backends.postgres.core import SQL, PostgresCore


class PostgresReplication(PostgresCore):
    """:class:`~aqueue.backends.base.Replication`."""

    async def wal_position(self) -> str:
        return str(await self._fetchval(SQL["wal_position"]))

    async def replica_lag(self, position: str) -> float | None:
        lag = await self._fetchval(SQL["replica_lag"], position)
        return None if lag is None else float(lag)
