-- Signals to jobs (aqueue/steps.py: queue.signal and ctx.wait_for): one per
-- job and name, kept until the job is deleted, so a signal sent before the
-- job waits for it is not lost. Deleted with their job.
CREATE TABLE aqueue_job_signals (
    job_id uuid NOT NULL REFERENCES aqueue_jobs (id) ON DELETE CASCADE,
    name text NOT NULL,
    payload text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (job_id, name)
);
