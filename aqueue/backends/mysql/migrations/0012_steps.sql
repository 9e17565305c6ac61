-- Durable steps (aqueue/steps.py): the result of each step a job finished,
-- by name, written fenced by the attempt that ran it (only while that attempt
-- holds the job). A later attempt of the job reads it instead of running the
-- step again. Deleted with their job.
CREATE TABLE aqueue_job_steps (
    job_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name VARCHAR(255) NOT NULL,
    attempt INT NOT NULL,
    result LONGTEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (job_id, name),
    CONSTRAINT aqueue_job_steps_job FOREIGN KEY (job_id)
        REFERENCES aqueue_jobs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
