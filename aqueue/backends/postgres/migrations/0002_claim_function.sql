-- The claim as a function, so that it can carry its own planner setting.
--
-- Right after a burst of enqueues the table's statistics are stale (a new
-- table has none; a busy one says almost nothing is queued). The planner then
-- prices "read every queued row, sort, take 10" as cheap and picks it: 20,000
-- queued rows made each claim of 10 cost ~10 ms instead of ~0.1 ms. With sorts
-- priced out, the only plan left is the one wanted: walk the claim index in
-- order, lock the first rows not locked by others, stop at the limit.
CREATE FUNCTION aqueue_claim(p_worker text, p_limit integer, p_lease float8, p_queues text[])
RETURNS TABLE (id text, task text, queue text, priority smallint, args text, kwargs text,
               attempts integer, max_attempts integer, timeout float8)
LANGUAGE plpgsql
SET enable_sort = off
AS $$
#variable_conflict use_column
BEGIN
    -- p_queues NULL serves every queue. Either way the queue test is a filter
    -- while the claim index is walked in order, so one plan does both.
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
              j.max_attempts, j.timeout;
END
$$;
