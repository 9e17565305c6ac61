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

DROP FUNCTION aqueue_claim(text, integer, float8, text[]);

CREATE FUNCTION aqueue_claim(p_worker text, p_limit integer, p_lease float8, p_queues text[])
RETURNS TABLE (id text, task text, queue text, priority smallint, args text, kwargs text,
               attempts integer, max_attempts integer, timeout float8,
               scheduled_at timestamptz, meta text)
LANGUAGE plpgsql
SET enable_sort = off
AS $$
#variable_conflict use_column
BEGIN
    -- The paused test is a probe of a tiny table's primary key per row walked,
    -- while the claim index is walked in order: the plan stays the same.
    RETURN QUERY
    WITH picked AS (
        SELECT c.id FROM aqueue_jobs c
        WHERE c.status = 'queued' AND c.scheduled_at <= now()
          AND (p_queues IS NULL OR c.queue = ANY(p_queues))
          AND NOT EXISTS (SELECT 1 FROM aqueue_queues q WHERE q.name = c.queue AND q.paused)
        ORDER BY c.priority DESC, c.scheduled_at, c.id
        LIMIT p_limit
        FOR UPDATE OF c SKIP LOCKED)
    UPDATE aqueue_jobs j
    SET status = 'running', attempts = j.attempts + 1, worker = p_worker, started_at = now(),
        lease_expires_at = now() + make_interval(secs => p_lease), cancel_requested = false
    FROM picked WHERE j.id = picked.id
    RETURNING j.id::text, j.task, j.queue, j.priority, j.args::text, j.kwargs::text, j.attempts,
              j.max_attempts, j.timeout, j.scheduled_at, j.meta::text;
END
$$;
