-- The workers registry: each worker registers, heartbeats and deregisters.
-- Leases stay the source of truth for jobs; this table is for operators (and
-- health checks): who runs, where, and what.
CREATE TABLE aqueue_workers (
    name TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    queues TEXT,
    concurrency INTEGER NOT NULL,
    version TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'stopped', 'dead')),
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    stopped_at REAL
);
