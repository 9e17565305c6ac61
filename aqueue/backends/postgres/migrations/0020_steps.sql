-- Durable steps (aqueue/steps.py): the result of each step a job finished,
-- by name, written fenced by the attempt that ran it (only while that attempt
-- holds the job). A later attempt of the job reads it instead of running the
-- step again. Deleted with their job.
CREATE TABLE aqueue_job_steps (
    job_id uuid NOT NULL REFERENCES aqueue_jobs (id) ON DELETE CASCADE,
    name text NOT NULL,
    attempt integer NOT NULL,
    result text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (job_id, name)
);
