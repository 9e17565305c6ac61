-- Pausing a queue: its jobs are not claimed (running ones finish), enqueue
-- still works, and the state survives restarts. The claim itself skips paused
-- queues, so a pause holds from the moment it commits, for every worker.
CREATE TABLE aqueue_queues (
    name text PRIMARY KEY,
    paused boolean NOT NULL DEFAULT false,
    changed_at timestamptz NOT NULL DEFAULT now()
);

-- aqueue_claim: defined once, in functions.sql (applied by the last migration of each run).
