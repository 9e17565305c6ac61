-- Signals to jobs (aqueue/steps.py: queue.signal and ctx.wait_for): one per
-- job and name, kept until the job is deleted, so a signal sent before the
-- job waits for it is not lost.
CREATE TABLE aqueue_job_signals (
    job_id TEXT NOT NULL,
    name TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (job_id, name)
);

-- Deleted with their job (on one line: see 0011).
CREATE TRIGGER aqueue_job_signals_gone AFTER DELETE ON aqueue_jobs
BEGIN DELETE FROM aqueue_job_signals WHERE job_id = OLD.id; END;
