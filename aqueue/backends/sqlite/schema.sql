-- aqueue's sqlite schema after migration 0015: written by
-- scripts/dump_schema.py from a database migrated step by step. Do not edit:
-- change the schema with a new migration, then run the script again.

CREATE TABLE aqueue_batches (
    id TEXT PRIMARY KEY,
    callbacks TEXT NOT NULL,
    anchor TEXT NOT NULL,
    created_at REAL NOT NULL,
    closed_at REAL
);

CREATE TABLE aqueue_flow (
    minute INTEGER NOT NULL,
    queue TEXT NOT NULL,
    succeeded INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    retried INTEGER NOT NULL DEFAULT 0,
    depth INTEGER,
    PRIMARY KEY (minute, queue)
);

CREATE TABLE aqueue_job_deps (
    child TEXT NOT NULL,
    parent TEXT NOT NULL,
    run_on_failure INTEGER NOT NULL DEFAULT 0,
    released INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (child, parent)
);

CREATE TABLE aqueue_job_output (
    job_id TEXT NOT NULL,
    id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    output TEXT NOT NULL,
    cut INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    PRIMARY KEY (job_id, id)
);

CREATE TABLE aqueue_job_signals (
    job_id TEXT NOT NULL,
    name TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (job_id, name)
);

CREATE TABLE aqueue_job_steps (
    job_id TEXT NOT NULL,
    name TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    result TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (job_id, name)
);

CREATE TABLE aqueue_job_tags (
    job_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (job_id, tag)
);

CREATE TABLE aqueue_jobs (
    id TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    queue TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    priority INTEGER NOT NULL DEFAULT 0,
    args TEXT NOT NULL,
    kwargs TEXT NOT NULL,
    result TEXT,
    error TEXT,
    progress TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    timeout REAL,
    unique_key TEXT,
    worker TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    scheduled_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    lease_expires_at REAL
, history TEXT, meta TEXT, limit_key TEXT, waiting INTEGER);

CREATE TABLE aqueue_leaders (
    duty TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    term INTEGER NOT NULL,
    expires_at REAL NOT NULL
);

CREATE TABLE aqueue_limit_starts (
    task TEXT NOT NULL,
    limit_key TEXT NOT NULL,
    started_at REAL NOT NULL
);

CREATE TABLE aqueue_limits (
    task TEXT NOT NULL,
    limit_key TEXT NOT NULL,
    PRIMARY KEY (task, limit_key)
);

CREATE TABLE aqueue_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL);

CREATE TABLE aqueue_periodic (
    name TEXT PRIMARY KEY,
    last_tick REAL NOT NULL,
    updated_at REAL NOT NULL
);

CREATE TABLE aqueue_queues (
    name TEXT PRIMARY KEY,
    paused INTEGER NOT NULL DEFAULT 0,
    changed_at REAL NOT NULL
);

CREATE TABLE aqueue_sessions (
    key TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);

CREATE TABLE aqueue_unique_keys (
    unique_key TEXT PRIMARY KEY,
    job_id TEXT,
    created_at REAL NOT NULL
);

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
, node TEXT);

CREATE INDEX aqueue_batches_anchor ON aqueue_batches (anchor);

CREATE INDEX aqueue_job_deps_parent ON aqueue_job_deps (parent);

CREATE INDEX aqueue_job_deps_pending ON aqueue_job_deps (parent) WHERE NOT released;

CREATE INDEX aqueue_job_tags_tag ON aqueue_job_tags (tag, job_id);

CREATE INDEX aqueue_jobs_claim
    ON aqueue_jobs (priority DESC, scheduled_at, id, queue, task, status, limit_key)
    WHERE status = 'queued' AND limit_key IS NULL;

CREATE INDEX aqueue_jobs_finished ON aqueue_jobs (finished_at, queue, status)
    WHERE finished_at IS NOT NULL;

CREATE INDEX aqueue_jobs_finished_queue ON aqueue_jobs (queue, id)
    WHERE finished_at IS NOT NULL;

CREATE INDEX aqueue_jobs_finished_task ON aqueue_jobs (task, id)
    WHERE finished_at IS NOT NULL;

CREATE INDEX aqueue_jobs_limited
    ON aqueue_jobs (task, limit_key, priority DESC, scheduled_at, id, queue, status)
    WHERE status = 'queued' AND limit_key IS NOT NULL;

CREATE INDEX aqueue_jobs_limited_running ON aqueue_jobs (task, limit_key)
    WHERE status = 'running' AND limit_key IS NOT NULL;

CREATE INDEX aqueue_jobs_problems ON aqueue_jobs (status, queue, id, task)
    WHERE status IN ('failed', 'cancelled');

CREATE INDEX aqueue_jobs_problems_recent ON aqueue_jobs (status, id)
    WHERE status IN ('failed', 'cancelled');

CREATE INDEX aqueue_jobs_problems_task ON aqueue_jobs (status, task, id)
    WHERE status IN ('failed', 'cancelled');

CREATE INDEX aqueue_jobs_running ON aqueue_jobs (lease_expires_at)
    WHERE status = 'running';

CREATE UNIQUE INDEX aqueue_jobs_unique_key ON aqueue_jobs (unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('queued', 'running');

CREATE INDEX aqueue_limit_starts_key ON aqueue_limit_starts (task, limit_key, started_at);

CREATE INDEX aqueue_unique_keys_job ON aqueue_unique_keys (job_id);

CREATE TRIGGER aqueue_batches_gone AFTER DELETE ON aqueue_jobs
BEGIN DELETE FROM aqueue_batches WHERE anchor = OLD.id; END;

CREATE TRIGGER aqueue_job_output_gone AFTER DELETE ON aqueue_jobs
BEGIN DELETE FROM aqueue_job_output WHERE job_id = OLD.id; END;

CREATE TRIGGER aqueue_job_signals_gone AFTER DELETE ON aqueue_jobs
BEGIN DELETE FROM aqueue_job_signals WHERE job_id = OLD.id; END;

CREATE TRIGGER aqueue_job_steps_gone AFTER DELETE ON aqueue_jobs
BEGIN DELETE FROM aqueue_job_steps WHERE job_id = OLD.id; END;

CREATE TRIGGER aqueue_job_tags_gone AFTER DELETE ON aqueue_jobs
BEGIN DELETE FROM aqueue_job_tags WHERE job_id = OLD.id; END;

CREATE TRIGGER aqueue_unique_keys_gone AFTER DELETE ON aqueue_jobs
BEGIN DELETE FROM aqueue_unique_keys WHERE job_id = OLD.id; END;
