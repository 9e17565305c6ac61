-- Signals to jobs (aqueue/steps.py: queue.signal and ctx.wait_for): one per
-- job and name, kept until the job is deleted, so a signal sent before the
-- job waits for it is not lost. Deleted with their job.
CREATE TABLE aqueue_job_signals (
    job_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name VARCHAR(255) NOT NULL,
    payload LONGTEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (job_id, name),
    CONSTRAINT aqueue_job_signals_job FOREIGN KEY (job_id)
        REFERENCES aqueue_jobs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
