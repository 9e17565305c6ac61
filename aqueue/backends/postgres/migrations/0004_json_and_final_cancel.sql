-- Payloads as json, not jsonb; a cancel request survives retry, rescue and hand-back.
--
-- jsonb refuses the escape \u0000 in strings ("unsupported Unicode escape
-- sequence"), which JSON allows and the other two databases store: an argument,
-- result, error message or progress holding U+0000 failed to write. The json
-- type keeps the text as given (it still checks that it is JSON) and takes it.
-- aqueue never looks inside these columns in SQL, so nothing is lost; json
-- input is also cheaper than jsonb's conversion (see docs/performance.md).
ALTER TABLE aqueue_jobs
    ALTER COLUMN args TYPE json USING args::json,
    ALTER COLUMN kwargs TYPE json USING kwargs::json,
    ALTER COLUMN result TYPE json USING result::json,
    ALTER COLUMN error TYPE json USING error::json,
    ALTER COLUMN progress TYPE json USING progress::json;

-- The claim also returns each job's due time, so the worker starts the jobs
-- it claimed in the order of the claim (UPDATE ... RETURNING keeps none).
DROP FUNCTION aqueue_claim(text, integer, float8, text[]);

CREATE FUNCTION aqueue_claim(p_worker text, p_limit integer, p_lease float8, p_queues text[])
RETURNS TABLE (id text, task text, queue text, priority smallint, args text, kwargs text,
               attempts integer, max_attempts integer, timeout float8,
               scheduled_at timestamptz)
LANGUAGE plpgsql
SET enable_sort = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH picked AS (
        SELECT c.id FROM aqueue_jobs c
        WHERE c.status = 'queued' AND c.scheduled_at <= now()
          AND (p_queues IS NULL OR c.queue = ANY(p_queues))
        ORDER BY c.priority DESC, c.scheduled_at, c.id
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED)
    UPDATE aqueue_jobs j
    SET status = 'running', attempts = j.attempts + 1, worker = p_worker, started_at = now(),
        lease_expires_at = now() + make_interval(secs => p_lease), cancel_requested = false
    FROM picked WHERE j.id = picked.id
    RETURNING j.id::text, j.task, j.queue, j.priority, j.args::text, j.kwargs::text, j.attempts,
              j.max_attempts, j.timeout, j.scheduled_at;
END
$$;

-- Outcomes: a retry of a job whose cancel was requested ends it cancelled.
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
