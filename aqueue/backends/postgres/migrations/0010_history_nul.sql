-- A retried attempt whose error message holds U+0000 (JSON's \u0000) could not
-- be stored: its history entry was built through jsonb, which refuses that
-- escape, so the retry was lost and the job stored as failed (UnstorableOutcome).
-- The error column (json) keeps the message as it was; only its copy in the
-- history gets U+FFFD in place of each U+0000 (json ->> fails on a \u0000
-- anywhere in the document, so the type is read from the same replaced text).
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
                                   'error', replace(o.error, '\u0000', '\ufffd')::jsonb
                                            ->> 'type',
                                   'message', left(replace(o.error, '\u0000', '\ufffd')::jsonb
                                                   ->> 'message', 500)))
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
