-- Each attempt that ended and was followed by another (a retry, a rescue
-- after a lost lease, a retry by hand) leaves one entry in history: attempt,
-- started_at, ended_at, outcome, error type and message. The attempt that is
-- current or last keeps its own columns. Written only when an attempt ends
-- without being the last, so a job that succeeds at once never writes it.
ALTER TABLE aqueue_jobs ADD COLUMN history jsonb;

-- Failed or cancelled jobs of one task, newest first, as one index range
-- (the problems index holds them by queue). Paid, like the next, only when a
-- job fails or is cancelled.
CREATE INDEX aqueue_jobs_problems_task ON aqueue_jobs (status, task, id)
    WHERE status IN ('failed', 'cancelled');

-- All failed (or cancelled) jobs, newest first, as one index range.
CREATE INDEX aqueue_jobs_problems_recent ON aqueue_jobs (status, id)
    WHERE status IN ('failed', 'cancelled');

CREATE OR REPLACE FUNCTION aqueue_complete(p_worker text, p_ids uuid[], p_attempts integer[],
                                           p_status text[], p_result text[], p_error text[],
                                           p_retry_delay float8[])
RETURNS SETOF text
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
BEGIN
    RETURN QUERY
    WITH o AS (
        SELECT * FROM unnest(p_ids, p_attempts, p_status, p_result, p_error, p_retry_delay)
             AS o(id, attempts, status, result, error, retry_delay)),
    done AS (
        UPDATE aqueue_jobs j
        SET status = CASE WHEN o.status = 'queued' AND j.cancel_requested THEN 'cancelled'
                          ELSE o.status END,
            result = o.result::json, error = o.error::json,
            history = CASE WHEN o.status = 'queued' AND NOT j.cancel_requested
                           THEN COALESCE(j.history, '[]'::jsonb) || jsonb_build_array(
                               jsonb_build_object(
                                   'attempt', j.attempts, 'started_at', j.started_at,
                                   'ended_at', now(), 'outcome', 'retried',
                                   'error', o.error::jsonb ->> 'type',
                                   'message', left(o.error::jsonb ->> 'message', 500)))
                           ELSE j.history END,
            lease_expires_at = NULL, cancel_requested = false,
            finished_at = CASE WHEN o.status = 'queued' AND NOT j.cancel_requested THEN NULL
                               ELSE now() END,
            scheduled_at = CASE WHEN o.status = 'queued' AND NOT j.cancel_requested
                                THEN now() + make_interval(secs => o.retry_delay)
                                ELSE j.scheduled_at END
        FROM o
        WHERE j.id = o.id AND j.attempts = o.attempts AND j.status = 'running'
          AND j.worker = p_worker
        RETURNING j.id, j.status)
    SELECT d.id::text FROM done d
    UNION ALL
    SELECT NULL FROM (
        SELECT pg_notify('aqueue_done', string_agg(done.id::text, ','))
        FROM done WHERE done.status <> 'queued' HAVING count(*) > 0) AS notified;
END
$$;

-- Where a worker's pid means something: its boot and pid namespace. A worker
-- on the same node whose pid is gone has died, and its jobs need not wait
-- for their leases to expire.
ALTER TABLE aqueue_workers ADD COLUMN node text;
