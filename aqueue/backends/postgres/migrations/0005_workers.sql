-- The workers registry: each worker registers, heartbeats and deregisters.
-- Leases stay the source of truth for jobs; this table is for operators (and
-- health checks): who runs, where, and what.
CREATE TABLE aqueue_workers (
    name text PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    queues json,
    concurrency integer NOT NULL,
    version text NOT NULL,
    status text NOT NULL CHECK (status IN ('running', 'stopped', 'dead')),
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    stopped_at timestamptz
);
