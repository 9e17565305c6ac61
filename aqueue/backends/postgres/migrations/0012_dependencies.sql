-- Dependencies (aqueue.dependencies): a job enqueued with after=[...] waits,
-- queued and not due, until its parents have ended. waiting counts the
-- parents that have not; NULL for a job that never had any.
ALTER TABLE aqueue_jobs ADD COLUMN waiting integer;

-- One row per (child, parent). released: the parent's end was applied to the
-- child (once, even if the parent is retried by hand later).
CREATE TABLE aqueue_job_deps (
    child uuid NOT NULL,
    parent uuid NOT NULL,
    run_on_failure boolean NOT NULL DEFAULT false,
    released boolean NOT NULL DEFAULT false,
    PRIMARY KEY (child, parent)
);
-- What a parent's end looks up: only edges not yet applied are in it, so a
-- completion batch whose jobs have no children costs one probe each.
CREATE INDEX aqueue_job_deps_pending ON aqueue_job_deps (parent) WHERE NOT released;

-- Apply the end of these parents (those that ended, or are gone) to their
-- children: a child whose parents all succeeded becomes due now; one whose
-- parent failed or was cancelled is cancelled with that parent named (unless
-- it runs on failure), and its own children after it, in the same transaction.
-- aqueue_release: defined once, in functions.sql (applied by the last migration of each run).

-- aqueue_complete: defined once, in functions.sql (applied by the last migration of each run).
