-- aqueue schema for SQLite 3.35+. Times are Unix seconds (REAL) from the
-- database clock: (julianday('now') - 2440587.5) * 86400.0.
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
);

-- The claim reads this partial index in order and stops after LIMIT rows;
-- finished rows are not in it, so the table's size does not matter.
CREATE INDEX aqueue_jobs_claim ON aqueue_jobs (priority DESC, scheduled_at, id)
    WHERE status = 'queued';

CREATE INDEX aqueue_jobs_running ON aqueue_jobs (lease_expires_at)
    WHERE status = 'running';

CREATE UNIQUE INDEX aqueue_jobs_unique_key ON aqueue_jobs (unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('queued', 'running');

CREATE INDEX aqueue_jobs_finished ON aqueue_jobs (finished_at)
    WHERE finished_at IS NOT NULL;
