-- What attempts printed and logged (aqueue/_worker/output.py): one row per
-- attempt that captured any, written before the attempt's outcome. The id is
-- made by the worker when the attempt starts, so a write retried after a lost
-- reply stores it once; attempt numbers repeat after a retry by hand, so rows
-- are read in the order they were written.
CREATE TABLE aqueue_job_output (
    job_id TEXT NOT NULL,
    id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    output TEXT NOT NULL,
    cut INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    PRIMARY KEY (job_id, id)
);

-- Deleted with their job, however the job goes (retention, purge, delete). A
-- trigger rather than a foreign key: SQLite checks foreign keys only on
-- connections that turn them on, and every tool that opens the file should
-- leave no output behind. (On one line: migrations end statements at a
-- line that ends with a semicolon.)
CREATE TRIGGER aqueue_job_output_gone AFTER DELETE ON aqueue_jobs
BEGIN DELETE FROM aqueue_job_output WHERE job_id = OLD.id; END;
