-- Each attempt that ended and was followed by another (a retry, a rescue
-- after a lost lease, a retry by hand) leaves one entry in history (JSON
-- array): attempt, started_at, ended_at, outcome, error type and message.
ALTER TABLE aqueue_jobs ADD COLUMN history TEXT;

-- Failed or cancelled jobs of one task, newest first, as one index range.
-- Paid, like the next, only when a job fails or is cancelled.
CREATE INDEX aqueue_jobs_problems_task ON aqueue_jobs (status, task, id)
    WHERE status IN ('failed', 'cancelled');

-- All failed (or cancelled) jobs, newest first, as one index range.
CREATE INDEX aqueue_jobs_problems_recent ON aqueue_jobs (status, id)
    WHERE status IN ('failed', 'cancelled');

-- Where a worker's pid means something: its boot and pid namespace. A worker
-- on the same node whose pid is gone has died, and its jobs need not wait
-- for their leases to expire.
ALTER TABLE aqueue_workers ADD COLUMN node TEXT;
