-- Tags of jobs (using(tags=[...])) and the groups of workflows a job belongs
-- to (aqueue/workflows.py, as "aqueue:group:<id>"): one row per job and tag,
-- so that the jobs of a tag are an index lookup. Deleted with their job.
CREATE TABLE aqueue_job_tags (
    job_id uuid NOT NULL REFERENCES aqueue_jobs (id) ON DELETE CASCADE,
    tag text NOT NULL,
    PRIMARY KEY (job_id, tag)
);
CREATE INDEX aqueue_job_tags_tag ON aqueue_job_tags (tag, job_id);

-- A job's children (its page shows them), released or not: the older index
-- holds only the edges not yet applied.
CREATE INDEX aqueue_job_deps_parent ON aqueue_job_deps (parent);

-- Batches (aqueue/workflows/batches.py): open while jobs are added, then
-- closed once; "callbacks" names the callback jobs ({"success": id, ...}),
-- which wait for every member and for the close. The row goes with its
-- anchor, one of the callbacks (on_complete's, else on_success's, else
-- on_failure's), when retention or a hand deletes it.
CREATE TABLE aqueue_batches (
    id uuid PRIMARY KEY,
    callbacks text NOT NULL,
    anchor uuid NOT NULL REFERENCES aqueue_jobs (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    closed_at timestamptz
);
CREATE INDEX aqueue_batches_anchor ON aqueue_batches (anchor);

-- Unique keys held for a period or past a job's end (aqueue/uniqueness.py):
-- one row per key, naming the job that holds it and since when. Producers of
-- the same key queue up on the row's lock. Deleted with the job.
CREATE TABLE aqueue_unique_keys (
    unique_key text PRIMARY KEY,
    job_id uuid REFERENCES aqueue_jobs (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX aqueue_unique_keys_job ON aqueue_unique_keys (job_id);
