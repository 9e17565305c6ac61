-- Indexes for the dashboard's counts and filtered lists. MariaDB has no
-- partial indexes, but InnoDB only touches a secondary index whose columns
-- change: the queue and task indexes cost one entry at enqueue and nothing
-- after; the status index changes with the status, as the claim index does.

-- Counts per (status, queue), the due/scheduled split and the oldest due
-- job are read from this index alone (InnoDB appends the primary key, id).
CREATE INDEX aqueue_jobs_status_queue ON aqueue_jobs (status, queue, scheduled_at);

-- Jobs of one queue, or of one task, newest first.
CREATE INDEX aqueue_jobs_queue ON aqueue_jobs (queue, id);
CREATE INDEX aqueue_jobs_task ON aqueue_jobs (task, id);

-- Throughput over the last 5 and 60 minutes is read from this index alone.
DROP INDEX aqueue_jobs_finished ON aqueue_jobs;
CREATE INDEX aqueue_jobs_finished ON aqueue_jobs (finished_at, queue, status);
