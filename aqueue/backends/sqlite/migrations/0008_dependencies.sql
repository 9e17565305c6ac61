-- Dependencies (aqueue.dependencies): a job enqueued with after=[...] waits,
-- queued and not due, until its parents have ended. waiting counts the
-- parents that have not; NULL for a job that never had any.
ALTER TABLE aqueue_jobs ADD COLUMN waiting INTEGER;

-- One row per (child, parent). released: the parent's end was applied to the
-- child (once, even if the parent is retried by hand later).
CREATE TABLE aqueue_job_deps (
    child TEXT NOT NULL,
    parent TEXT NOT NULL,
    run_on_failure INTEGER NOT NULL DEFAULT 0,
    released INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (child, parent)
);
-- What a parent's end looks up: only edges not yet applied are in it.
CREATE INDEX aqueue_job_deps_pending ON aqueue_job_deps (parent) WHERE NOT released;
