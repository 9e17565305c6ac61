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

-- aqueue_claim: defined once, in functions.sql (applied by the last migration of each run).
