-- Global concurrency and rate limits (aqueue.limits). A job of a limited task
-- carries its limit key ('' when the task's limits apply to all its jobs);
-- other jobs leave it NULL and are claimed as before. Added last and
-- nullable, so MariaDB adds it without copying the table.
ALTER TABLE aqueue_jobs ADD COLUMN limit_key VARCHAR(255);

-- No partial indexes here: the status is indexed only for limited jobs
-- (NULL for the others, whose entry then never changes after enqueue). The
-- limited claim visits (task, key) pairs with queued jobs through it, takes
-- a pair's jobs in claim order, and counts a pair's running jobs.
ALTER TABLE aqueue_jobs ADD COLUMN limited_status VARCHAR(16) CHARACTER SET ascii
    COLLATE ascii_bin GENERATED ALWAYS AS (CASE WHEN limit_key IS NOT NULL THEN status END) VIRTUAL;
CREATE INDEX aqueue_jobs_limited
    ON aqueue_jobs (limited_status, task, limit_key, neg_priority, scheduled_at, id);

-- One row per (task, key), locked by the worker claiming that key's jobs:
-- the counts it reads cannot change under it until it commits.
CREATE TABLE aqueue_limits (
    task VARCHAR(255) NOT NULL,
    limit_key VARCHAR(255) NOT NULL,
    PRIMARY KEY (task, limit_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row per start of a rate-limited job, pruned once out of the window.
CREATE TABLE aqueue_limit_starts (
    id BIGINT NOT NULL AUTO_INCREMENT,
    task VARCHAR(255) NOT NULL,
    limit_key VARCHAR(255) NOT NULL,
    started_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY aqueue_limit_starts_key (task, limit_key, started_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The ordinary claim's index holds the status of unlimited jobs only (NULL
-- for limited ones): a backlog of limited jobs held back at the head of the
-- queue is not walked past by every claim (5,000 of them made each claim ~6x
-- slower). It replaces the claim index and changes exactly when it did.
ALTER TABLE aqueue_jobs ADD COLUMN claim_status VARCHAR(16) CHARACTER SET ascii
    COLLATE ascii_bin GENERATED ALWAYS AS (CASE WHEN limit_key IS NULL THEN status END) VIRTUAL;
CREATE INDEX aqueue_jobs_claim_free ON aqueue_jobs (claim_status, neg_priority, scheduled_at, id);
DROP INDEX aqueue_jobs_claim ON aqueue_jobs;
