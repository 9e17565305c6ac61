-- Each attempt that ended and was followed by another (a retry, a rescue
-- after a lost lease, a retry by hand) leaves one entry in history: attempt,
-- started_at, ended_at, outcome, error type and message. The attempt that is
-- current or last keeps its own columns. Written only when an attempt ends
-- without being the last, so a job that succeeds at once never writes it.
ALTER TABLE aqueue_jobs ADD COLUMN history jsonb;

-- Failed or cancelled jobs of one task, newest first, as one index range
-- (the problems index holds them by queue). Paid, like the next, only when a
-- job fails or is cancelled.
CREATE INDEX aqueue_jobs_problems_task ON aqueue_jobs (status, task, id)
    WHERE status IN ('failed', 'cancelled');

-- All failed (or cancelled) jobs, newest first, as one index range.
CREATE INDEX aqueue_jobs_problems_recent ON aqueue_jobs (status, id)
    WHERE status IN ('failed', 'cancelled');

-- aqueue_complete: defined once, in functions.sql (applied by the last migration of each run).

-- Where a worker's pid means something: its boot and pid namespace. A worker
-- on the same node whose pid is gone has died, and its jobs need not wait
-- for their leases to expire.
ALTER TABLE aqueue_workers ADD COLUMN node text;
