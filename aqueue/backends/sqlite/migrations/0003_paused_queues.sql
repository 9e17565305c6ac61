-- Pausing a queue: its jobs are not claimed (running ones finish), enqueue
-- still works, and the state survives restarts. The claim itself skips paused
-- queues, so a pause holds from the moment it commits, for every worker.
CREATE TABLE aqueue_queues (
    name TEXT PRIMARY KEY,
    paused INTEGER NOT NULL DEFAULT 0,
    changed_at REAL NOT NULL
);
