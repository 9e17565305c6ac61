-- Each attempt that ended and was followed by another (a retry, a rescue
-- after a lost lease, a retry by hand) leaves one entry in history (JSON
-- array): attempt, started_at, ended_at, outcome, error type and message.
-- Added last and nullable, so MariaDB adds it without copying the table.
ALTER TABLE aqueue_jobs ADD COLUMN history LONGTEXT;

-- Failed or cancelled jobs of one task, newest first, as one index range.
-- MariaDB has no partial indexes: the key is NULL unless the job failed or
-- was cancelled, so other status changes leave the entry as it is (virtual,
-- so adding it builds an index and never copies the table).
ALTER TABLE aqueue_jobs ADD COLUMN problem_key VARCHAR(272) GENERATED ALWAYS AS
    (CASE WHEN status IN ('failed', 'cancelled') THEN CONCAT(status, ':', task) END) VIRTUAL;
CREATE INDEX aqueue_jobs_problem_key ON aqueue_jobs (problem_key, id);

-- Where a worker's pid means something: its boot and pid namespace. A worker
-- on the same node whose pid is gone has died, and its jobs need not wait
-- for their leases to expire.
ALTER TABLE aqueue_workers ADD COLUMN node VARCHAR(255);
