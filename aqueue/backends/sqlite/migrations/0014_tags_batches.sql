-- Tags of jobs (using(tags=[...])) and the groups of workflows a job belongs
-- to (aqueue/workflows.py, as "aqueue:group:<id>"): one row per job and tag,
-- so that the jobs of a tag are an index lookup.
CREATE TABLE aqueue_job_tags (
    job_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (job_id, tag)
);
CREATE INDEX aqueue_job_tags_tag ON aqueue_job_tags (tag, job_id);

-- A job's children (its page shows them), released or not: the older index
-- holds only the edges not yet applied.
CREATE INDEX aqueue_job_deps_parent ON aqueue_job_deps (parent);

-- Deleted with their job (on one line: see 0011).
CREATE TRIGGER aqueue_job_tags_gone AFTER DELETE ON aqueue_jobs
BEGIN DELETE FROM aqueue_job_tags WHERE job_id = OLD.id; END;

-- Batches (aqueue/workflows/batches.py): open while jobs are added, then
-- closed once; "callbacks" names the callback jobs ({"success": id, ...}),
-- which wait for every member and for the close. The row goes with its
-- anchor, one of the callbacks (on_complete's, else on_success's, else
-- on_failure's), when retention or a hand deletes it.
CREATE TABLE aqueue_batches (
    id TEXT PRIMARY KEY,
    callbacks TEXT NOT NULL,
    anchor TEXT NOT NULL,
    created_at REAL NOT NULL,
    closed_at REAL
);
CREATE INDEX aqueue_batches_anchor ON aqueue_batches (anchor);

CREATE TRIGGER aqueue_batches_gone AFTER DELETE ON aqueue_jobs
BEGIN DELETE FROM aqueue_batches WHERE anchor = OLD.id; END;

-- Unique keys held for a period or past a job's end (aqueue/uniqueness.py):
-- one row per key, naming the job that holds it and since when.
CREATE TABLE aqueue_unique_keys (
    unique_key TEXT PRIMARY KEY,
    job_id TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX aqueue_unique_keys_job ON aqueue_unique_keys (job_id);

-- Deleted with their job (on one line: see 0011).
CREATE TRIGGER aqueue_unique_keys_gone AFTER DELETE ON aqueue_jobs
BEGIN DELETE FROM aqueue_unique_keys WHERE job_id = OLD.id; END;
