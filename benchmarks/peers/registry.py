"""Every peer the suite can run, by name: those on PostgreSQL, then those on Redis."""

from __future__ import annotations

from benchmarks.peers.drivers import ON_POSTGRES, Peer
from benchmarks.peers.redis_brokers import REDIS_PEERS

PEERS: dict[str, type[Peer]] = {**ON_POSTGRES, **REDIS_PEERS}
