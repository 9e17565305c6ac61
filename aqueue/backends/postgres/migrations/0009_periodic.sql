-- Periodic jobs: each schedule's last enqueued tick. A worker enqueues a
-- tick only by moving last_tick forward, in the transaction that inserts the
-- tick's job: however many workers run the schedule, one wins each tick.
CREATE TABLE aqueue_periodic (
    name text PRIMARY KEY,
    last_tick timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- What aqueue itself records about a job (a periodic job's schedule and
-- tick), returned by the claim so that the task's context can read it.
ALTER TABLE aqueue_jobs ADD COLUMN meta jsonb;

-- aqueue_claim: defined once, in functions.sql (applied by the last migration of each run).
