-- What attempts printed and logged (aqueue/_worker/output.py): one row per
-- attempt that captured any, written before the attempt's outcome. The id is
-- made by the worker when the attempt starts, so a write retried after a lost
-- reply stores it once; attempt numbers repeat after a retry by hand, so rows
-- are read in the order they were written. Deleted with their job, however
-- the job goes (retention, purge, delete).
CREATE TABLE aqueue_job_output (
    job_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    attempt INT NOT NULL,
    output LONGTEXT NOT NULL,
    cut BIGINT NOT NULL DEFAULT 0,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (job_id, id),
    CONSTRAINT aqueue_job_output_job FOREIGN KEY (job_id)
        REFERENCES aqueue_jobs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
