-- Tags of jobs (using(tags=[...])) and the groups of workflows a job belongs
-- to (aqueue/workflows.py, as "aqueue:group:<id>"): one row per job and tag,
-- so that the jobs of a tag are an index lookup. Deleted with their job.
CREATE TABLE aqueue_job_tags (
    job_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    tag VARCHAR(200) NOT NULL,
    PRIMARY KEY (job_id, tag),
    KEY aqueue_job_tags_tag (tag, job_id),
    CONSTRAINT aqueue_job_tags_job FOREIGN KEY (job_id)
        REFERENCES aqueue_jobs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Batches (aqueue/workflows/batches.py): open while jobs are added, then
-- closed once; "callbacks" names the callback jobs ({"success": id, ...}),
-- which wait for every member and for the close. The row goes with its
-- anchor, one of the callbacks (on_complete's, else on_success's, else
-- on_failure's), when retention or a hand deletes it.
CREATE TABLE aqueue_batches (
    id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    callbacks LONGTEXT NOT NULL,
    anchor CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at DATETIME(6) NOT NULL,
    closed_at DATETIME(6) NULL,
    KEY aqueue_batches_anchor (anchor),
    CONSTRAINT aqueue_batches_anchor FOREIGN KEY (anchor)
        REFERENCES aqueue_jobs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Unique keys held for a period or past a job's end (aqueue/uniqueness.py):
-- one row per key, naming the job that holds it and since when. Producers of
-- the same key queue up on the row's lock. Deleted with the job.
CREATE TABLE aqueue_unique_keys (
    unique_key VARCHAR(255) NOT NULL PRIMARY KEY,
    job_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
    created_at DATETIME(6) NOT NULL,
    KEY aqueue_unique_keys_job (job_id),
    CONSTRAINT aqueue_unique_keys_job FOREIGN KEY (job_id)
        REFERENCES aqueue_jobs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
