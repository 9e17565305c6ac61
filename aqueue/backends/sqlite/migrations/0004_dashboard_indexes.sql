-- Indexes for the dashboard's counts and filtered lists, chosen so that the
-- hot path pays almost nothing for them: each new index is partial, and only
-- gets an entry when a job finishes, or fails, never at enqueue or claim.

-- The claim index carries queue and task (after id, so the claim's order is
-- unchanged): queued counts per queue, the due/scheduled split and the
-- oldest due job, and queued jobs filtered by queue or task, come from it
-- alone. It holds status too: SQLite only reads an index alone when it has
-- every column the query names, even one its WHERE fixes.
DROP INDEX aqueue_jobs_claim;
CREATE INDEX aqueue_jobs_claim
    ON aqueue_jobs (priority DESC, scheduled_at, id, queue, task, status)
    WHERE status = 'queued';

-- Finished jobs of one queue, or of one task, newest first.
CREATE INDEX aqueue_jobs_finished_queue ON aqueue_jobs (queue, id)
    WHERE finished_at IS NOT NULL;
CREATE INDEX aqueue_jobs_finished_task ON aqueue_jobs (task, id)
    WHERE finished_at IS NOT NULL;

-- Failed and cancelled jobs: their counts per queue, and their lists (by
-- queue, or by task: the task is read from the index too).
CREATE INDEX aqueue_jobs_problems ON aqueue_jobs (status, queue, id, task)
    WHERE status IN ('failed', 'cancelled');

-- Throughput over the last 5 and 60 minutes is read from this index alone.
DROP INDEX aqueue_jobs_finished;
CREATE INDEX aqueue_jobs_finished ON aqueue_jobs (finished_at, queue, status)
    WHERE finished_at IS NOT NULL;
