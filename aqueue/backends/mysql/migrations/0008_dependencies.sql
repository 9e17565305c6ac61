-- Dependencies (aqueue.dependencies): a job enqueued with after=[...] waits,
-- queued and not due, until its parents have ended. waiting counts the
-- parents that have not; NULL for a job that never had any. Added last and
-- nullable, so MariaDB adds it without copying the table.
ALTER TABLE aqueue_jobs ADD COLUMN waiting INT;

-- One row per (child, parent). released: the parent's end was applied to the
-- child (once, even if the parent is retried by hand later).
CREATE TABLE aqueue_job_deps (
    child CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    parent CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    run_on_failure TINYINT NOT NULL DEFAULT 0,
    released TINYINT NOT NULL DEFAULT 0,
    PRIMARY KEY (child, parent),
    KEY aqueue_job_deps_pending (parent, released)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
