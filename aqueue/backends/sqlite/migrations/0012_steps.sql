-- Durable steps (aqueue/steps.py): the result of each step a job finished,
-- by name, written fenced by the attempt that ran it (only while that attempt
-- holds the job). A later attempt of the job reads it instead of running the
-- step again.
CREATE TABLE aqueue_job_steps (
    job_id TEXT NOT NULL,
    name TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    result TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (job_id, name)
);

-- Deleted with their job (a trigger, as for aqueue_job_output; on one line:
-- migrations end statements at a line that ends with a semicolon).
CREATE TRIGGER aqueue_job_steps_gone AFTER DELETE ON aqueue_jobs
BEGIN DELETE FROM aqueue_job_steps WHERE job_id = OLD.id; END;
