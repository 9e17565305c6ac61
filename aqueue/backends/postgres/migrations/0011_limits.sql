-- Global concurrency and rate limits (aqueue.limits). A job of a limited task
-- carries its limit key ('' when the task's limits apply to all its jobs);
-- other jobs leave it NULL and are claimed as before.
ALTER TABLE aqueue_jobs ADD COLUMN limit_key text;

-- The limited claim visits (task, key) pairs with queued jobs through this
-- index, and takes a pair's jobs in claim order from it.
CREATE INDEX aqueue_jobs_limited ON aqueue_jobs (task, limit_key, priority DESC, scheduled_at, id)
    INCLUDE (queue) WHERE status = 'queued' AND limit_key IS NOT NULL;

-- The ordinary claim's index holds unlimited jobs only: a backlog of limited
-- jobs held back at the head of the queue is not walked past by every claim
-- (5,000 of them made each claim ~10x slower). Queries over every queued job
-- read both indexes (status = 'queued' AND limit_key IS [NOT] NULL).
DROP INDEX aqueue_jobs_claim;
CREATE INDEX aqueue_jobs_claim ON aqueue_jobs (priority DESC, scheduled_at, id)
    INCLUDE (queue, task) WHERE status = 'queued' AND limit_key IS NULL;

-- A key's running jobs, counted for its concurrency limit.
CREATE INDEX aqueue_jobs_limited_running ON aqueue_jobs (task, limit_key)
    WHERE status = 'running' AND limit_key IS NOT NULL;

-- One row per (task, key), locked by the worker claiming that key's jobs:
-- the counts it reads cannot change under it until it commits.
CREATE TABLE aqueue_limits (
    task text NOT NULL,
    limit_key text NOT NULL,
    PRIMARY KEY (task, limit_key)
);

-- One row per start of a rate-limited job, pruned once out of the window.
CREATE TABLE aqueue_limit_starts (
    task text NOT NULL,
    limit_key text NOT NULL,
    started_at timestamptz NOT NULL
);
CREATE INDEX aqueue_limit_starts_key ON aqueue_limit_starts (task, limit_key, started_at);

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
    -- Limited jobs are the limited claim's: the claim index holds none of them.
    RETURN QUERY
    WITH picked AS (
        SELECT c.id FROM aqueue_jobs c
        WHERE c.status = 'queued' AND c.scheduled_at <= now()
          AND (p_queues IS NULL OR c.queue = ANY(p_queues))
          AND c.limit_key IS NULL
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
