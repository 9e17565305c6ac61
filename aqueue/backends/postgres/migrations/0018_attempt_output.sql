-- What attempts printed and logged (aqueue/_worker/output.py): one row per
-- attempt that captured any, written before the attempt's outcome. The id is
-- made by the worker when the attempt starts, so a write retried after a lost
-- reply stores it once; attempt numbers repeat after a retry by hand, so rows
-- are read in the order they were written. Deleted with their job, however
-- the job goes (retention, purge, delete).
CREATE TABLE aqueue_job_output (
    job_id uuid NOT NULL REFERENCES aqueue_jobs (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    attempt integer NOT NULL,
    output text NOT NULL,
    cut bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (job_id, id)
);
