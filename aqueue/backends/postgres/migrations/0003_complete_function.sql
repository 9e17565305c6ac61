-- Writing outcomes and renewing leases look rows up by primary key, pinned.
--
-- Both statements name their jobs by id and fence them with
-- "status = 'running' AND worker = ...". With the statistics stale after a
-- burst, that fence looks like it matches almost nothing, so PostgreSQL chose
-- to read every row of the running index (or the whole table) and match ids
-- against the list in a loop. The running index also keeps an entry for every
-- job that ever ran until VACUUM, and a bitmap scan never prunes them: writing
-- 100 outcomes grew from ~3 ms to ~10 ms over a 20,000-job drain, where the
-- lookup by id takes ~0.7 ms. The statements now run inside functions declared
-- SET enable_seqscan = off, and the lease index is keyed on what a lease is, so
-- the fence cannot select it: one primary-key probe per id is the plan left.

DROP INDEX aqueue_jobs_running;

-- Leased rows, for rescuing expired leases. lease_expires_at is set exactly
-- while a job is running (claim sets it; every way out of running clears it).
CREATE INDEX aqueue_jobs_leased ON aqueue_jobs (lease_expires_at)
    WHERE lease_expires_at IS NOT NULL;

CREATE FUNCTION aqueue_complete(p_worker text, p_ids uuid[], p_attempts integer[],
                                p_status text[], p_result text[], p_error text[],
                                p_retry_delay float8[])
RETURNS SETOF text
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
BEGIN
    -- Returns the ids written, and one NULL row when results were announced.
    RETURN QUERY
    WITH o AS (
        SELECT * FROM unnest(p_ids, p_attempts, p_status, p_result, p_error, p_retry_delay)
             AS o(id, attempts, status, result, error, retry_delay)),
    done AS (
        UPDATE aqueue_jobs j
        SET status = o.status, result = o.result::jsonb, error = o.error::jsonb,
            lease_expires_at = NULL, cancel_requested = false,
            finished_at = CASE WHEN o.status = 'queued' THEN NULL ELSE now() END,
            scheduled_at = CASE WHEN o.status = 'queued'
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

CREATE FUNCTION aqueue_renew(p_worker text, p_lease float8, p_ids uuid[])
RETURNS TABLE (id text, attempts integer, cancel_requested boolean)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    UPDATE aqueue_jobs SET lease_expires_at = now() + make_interval(secs => p_lease)
    WHERE status = 'running' AND worker = p_worker AND id = ANY(p_ids)
    RETURNING id::text, attempts, cancel_requested;
END
$$;
