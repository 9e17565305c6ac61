-- aqueue's PL/pgSQL functions: their one definition.
--
-- Migrations never restate a function. The last migration of every run that
-- applies any (aqueue/backends/postgres/core.py: migrate) runs this file in
-- its transaction, so a database at any version ends with these bodies. A
-- change here therefore needs a new migration (one holding only a comment
-- will do) for databases already at the latest version to get it;
-- tests/unit/test_schema_files.py holds the checksum that says so.
--
-- Each function is dropped and created, not replaced: CREATE OR REPLACE
-- cannot change what a function returns.

-- Claim up to p_limit due jobs for p_worker, in priority order, and lease them
-- for p_lease seconds. Limited jobs are the limited claim's (queries.sql:
-- claim_limited): the claim index holds none of them, so this never walks
-- past them. Sorting is off: the claim index gives the order.
DROP FUNCTION IF EXISTS aqueue_claim(text, integer, float8, text[]);
CREATE FUNCTION aqueue_claim(p_worker text, p_limit integer, p_lease float8, p_queues text[])
RETURNS TABLE (id text, task text, queue text, priority smallint, args text, kwargs text,
               attempts integer, max_attempts integer, timeout float8,
               scheduled_at timestamptz, meta text)
LANGUAGE plpgsql
SET enable_sort = off
AS $$
#variable_conflict use_column
BEGIN
    -- Limited jobs are the limited claim's: the claim index holds none of them.
    RETURN QUERY
    WITH picked AS (
        SELECT c.id FROM aqueue_jobs c
        WHERE c.status = 'queued' AND c.scheduled_at <= now()
          AND (p_queues IS NULL OR c.queue = ANY(p_queues))
          AND c.limit_key IS NULL
          AND NOT EXISTS (SELECT 1 FROM aqueue_queues q WHERE q.name = c.queue AND q.paused)
        ORDER BY c.priority DESC, c.scheduled_at, c.id
        LIMIT p_limit
        FOR UPDATE OF c SKIP LOCKED)
    UPDATE aqueue_jobs j
    SET status = 'running', attempts = j.attempts + 1, worker = p_worker, started_at = now(),
        lease_expires_at = now() + make_interval(secs => p_lease), cancel_requested = false
    FROM picked WHERE j.id = picked.id
    RETURNING j.id::text, j.task, j.queue, j.priority, j.args::text, j.kwargs::text, j.attempts,
              j.max_attempts, j.timeout, j.scheduled_at, j.meta::text;
END
$$;

-- Extend the leases p_worker holds on p_ids; the attempts it still holds,
-- each with whether a cancel was requested (a job missing was rescued).
DROP FUNCTION IF EXISTS aqueue_renew(text, float8, uuid[]);
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

-- Apply the end of these parents (those that ended, or are gone) to their
-- children: a child whose parents all succeeded becomes due now; one whose
-- parent failed or was cancelled is cancelled with that parent named (unless
-- it runs on failure), and its own children after it, in the same
-- transaction. aqueue_done notifications carry at most 200 job ids each: a
-- payload over 8,000 bytes fails the statement that sends it.
DROP FUNCTION IF EXISTS aqueue_release(uuid[]);
CREATE FUNCTION aqueue_release(p_parents uuid[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_parents uuid[] := p_parents;
    v_queues text[];
BEGIN
    WHILE cardinality(v_parents) > 0 LOOP
        WITH edges AS (
            UPDATE aqueue_job_deps d SET released = true
            FROM unnest(v_parents) AS ps(id)
            LEFT JOIN aqueue_jobs p ON p.id = ps.id
            WHERE d.parent = ps.id AND NOT d.released
              AND (p.id IS NULL OR p.status IN ('succeeded', 'failed', 'cancelled'))
            RETURNING d.child, d.parent, COALESCE(p.status, 'deleted') AS parent_status,
                      d.run_on_failure),
        per_child AS (
            SELECT child, count(*) AS n,
                   min(CASE WHEN parent_status <> 'succeeded' AND NOT run_on_failure
                            THEN parent::text || ' ' || parent_status END) AS failed
            FROM edges GROUP BY child),
        changed AS (
            UPDATE aqueue_jobs c
            SET status = CASE WHEN pc.failed IS NULL THEN c.status ELSE 'cancelled' END,
                finished_at = CASE WHEN pc.failed IS NULL THEN c.finished_at ELSE now() END,
                error = CASE WHEN pc.failed IS NULL THEN c.error ELSE json_build_object(
                    'type', 'ParentFailed',
                    'message', 'parent job ' || split_part(pc.failed, ' ', 1) || ' '
                               || split_part(pc.failed, ' ', 2),
                    'traceback', NULL) END,
                scheduled_at = CASE WHEN pc.failed IS NULL AND c.waiting - pc.n <= 0 THEN now()
                                    ELSE c.scheduled_at END,
                waiting = CASE WHEN pc.failed IS NULL THEN greatest(c.waiting - pc.n, 0) ELSE 0 END
            FROM per_child pc
            WHERE c.id = pc.child AND c.status = 'queued' AND c.waiting > 0
            RETURNING c.id, c.status, c.queue, c.waiting)
        SELECT array_agg(id) FILTER (WHERE status = 'cancelled'),
               array_agg(DISTINCT queue) FILTER (WHERE status = 'queued' AND waiting = 0)
        INTO v_parents, v_queues
        FROM changed;
        PERFORM pg_notify('aqueue_new', q || ' 0') FROM unnest(v_queues) AS q;
        PERFORM pg_notify('aqueue_done', string_agg(c.id::text, ','))
        FROM unnest(v_parents) WITH ORDINALITY AS c(id, n)
        GROUP BY (c.n - 1) / 200;
    END LOOP;
END
$$;

-- Write the outcomes of p_worker's attempts: fenced by worker and attempt, so
-- that a worker that lost a job (rescued elsewhere) writes nothing; a retry is
-- queued again with its attempt in the history; a job asked to cancel ends
-- cancelled. The ids written; then the children of the jobs that ended.
DROP FUNCTION IF EXISTS aqueue_complete(text, uuid[], integer[], text[], text[], text[], float8[]);
CREATE FUNCTION aqueue_complete(p_worker text, p_ids uuid[], p_attempts integer[],
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
        -- 'snoozed' (aqueue.Snooze): queued again, the attempt given back and
        -- counted in meta.snoozes; result, error and history are left as they were.
        UPDATE aqueue_jobs j
        SET status = CASE WHEN o.status IN ('queued', 'snoozed') AND j.cancel_requested
                          THEN 'cancelled'
                          WHEN o.status = 'snoozed' THEN 'queued'
                          ELSE o.status END,
            result = CASE WHEN o.status = 'snoozed' THEN j.result ELSE o.result::json END,
            error = CASE WHEN o.status = 'snoozed' THEN j.error ELSE o.error::json END,
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
            attempts = CASE WHEN o.status = 'snoozed' AND NOT j.cancel_requested
                            THEN j.attempts - 1 ELSE j.attempts END,
            meta = CASE WHEN o.status = 'snoozed' AND NOT j.cancel_requested
                        THEN COALESCE(j.meta, '{}'::jsonb) || jsonb_build_object(
                            'snoozes', COALESCE((j.meta ->> 'snoozes')::integer, 0) + 1)
                        ELSE j.meta END,
            lease_expires_at = NULL, cancel_requested = false,
            finished_at = CASE WHEN o.status IN ('queued', 'snoozed') AND NOT j.cancel_requested
                               THEN NULL ELSE now() END,
            scheduled_at = CASE WHEN o.status IN ('queued', 'snoozed') AND NOT j.cancel_requested
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
    -- Children of the jobs that ended, in this transaction (a separate
    -- statement: it sees a child enqueued while the parent's row was locked).
    -- Jobs without children cost one probe each of an index of pending edges.
    PERFORM aqueue_release(array_agg(DISTINCT d.parent))
    FROM aqueue_job_deps d WHERE d.parent = ANY(p_ids) AND NOT d.released
    HAVING count(*) > 0;
END
$$;

-- Claim up to p_room jobs with a limit key for p_worker, within the limits of
-- the worker's limited tasks (p_tasks, with p_concurrency, p_rate and p_period
-- at the same places, NULL where a task has no such limit): aqueue/limits.py's
-- claim_steps run here, in one round trip. (task, limit_key) pairs with due
-- jobs are visited in turn from (p_after_task, p_after_key), at most
-- p_max_keys of them; for a limited task's pair its aqueue_limits row is locked
-- (the pair is skipped when another worker holds it), its running jobs and its
-- starts in the window counted, and no more than is left claimed; starts are
-- logged. A pair of a task the worker knows no limits of is claimed unlimited.
-- Returns the jobs claimed, then one row without an id: the pair the next
-- claim starts after (cursor_task, cursor_key) and whether a limit held due
-- jobs back. With p_withdraw_at, the worker's offer is withdrawn once that
-- many jobs were claimed (they fill its slots).
DROP FUNCTION IF EXISTS aqueue_claim_limited(text, float8, text[], integer, text, text, text[],
                                             integer[], integer[], float8[], integer, integer);
CREATE FUNCTION aqueue_claim_limited(
    p_worker text, p_lease float8, p_queues text[], p_room integer,
    p_after_task text, p_after_key text,
    p_tasks text[], p_concurrency integer[], p_rate integer[], p_period float8[],
    p_max_keys integer, p_withdraw_at integer)
RETURNS TABLE (id text, task text, queue text, priority smallint, args text, kwargs text,
               attempts integer, max_attempts integer, timeout float8,
               scheduled_at timestamptz, meta text,
               cursor_task text, cursor_key text, held_back boolean)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    v_task text;
    v_key text;
    v_cursor_task text := p_after_task;
    v_cursor_key text := p_after_key;
    v_served_task text;
    v_served_key text;
    v_wrapped boolean := p_after_task IS NULL;
    v_seen text[] := '{}';
    v_held boolean := false;
    v_taken integer := 0;
    v_want integer;
    v_left integer;
    v_at integer;
    v_count bigint;
    v_got integer;
BEGIN
    FOR v_visit IN 1..p_max_keys LOOP
        EXIT WHEN v_taken >= p_room;
        v_task := NULL;
        v_key := NULL;
        -- The next pair with a due job: a range of the limited jobs' index.
        SELECT j.task, j.limit_key INTO v_task, v_key FROM aqueue_jobs j
        WHERE j.status = 'queued' AND j.limit_key IS NOT NULL
          AND (v_cursor_task IS NULL OR (j.task, j.limit_key) > (v_cursor_task, v_cursor_key))
          AND j.scheduled_at <= now() AND (p_queues IS NULL OR j.queue = ANY(p_queues))
        ORDER BY j.task, j.limit_key
        LIMIT 1;
        IF v_task IS NULL THEN
            EXIT WHEN v_wrapped;
            v_wrapped := true;  -- on from the first pair, up to where it started
            v_cursor_task := NULL;
            v_cursor_key := NULL;
            CONTINUE;
        END IF;
        EXIT WHEN jsonb_build_array(v_task, v_key)::text = ANY(v_seen);  -- came round
        v_seen := v_seen || jsonb_build_array(v_task, v_key)::text;
        v_cursor_task := v_task;
        v_cursor_key := v_key;
        v_want := p_room - v_taken;
        v_at := array_position(p_tasks, v_task);
        IF v_at IS NOT NULL THEN
            PERFORM 1 FROM aqueue_limits l
            WHERE l.task = v_task AND l.limit_key = v_key FOR UPDATE SKIP LOCKED;
            IF NOT FOUND THEN
                PERFORM 1 FROM aqueue_limits l WHERE l.task = v_task AND l.limit_key = v_key;
                CONTINUE WHEN FOUND;  -- another worker is claiming this pair's jobs now
                -- Made here, the row is locked; made by another first, it is theirs.
                INSERT INTO aqueue_limits (task, limit_key) VALUES (v_task, v_key)
                ON CONFLICT DO NOTHING;
                CONTINUE WHEN NOT FOUND;
            END IF;
            -- Counted after the lock, so every claim committed before is seen.
            -- Starts are stamped with the clock, not the transaction's start.
            v_left := NULL;
            IF p_concurrency[v_at] IS NOT NULL THEN
                SELECT count(*) INTO v_count FROM aqueue_jobs r
                WHERE r.status = 'running' AND r.limit_key IS NOT NULL
                  AND r.task = v_task AND r.limit_key = v_key;
                v_left := p_concurrency[v_at] - v_count;
            END IF;
            IF p_rate[v_at] IS NOT NULL THEN
                DELETE FROM aqueue_limit_starts s
                WHERE s.task = v_task AND s.limit_key = v_key
                  AND s.started_at <= clock_timestamp() - make_interval(secs => p_period[v_at]);
                SELECT count(*) INTO v_count FROM aqueue_limit_starts s
                WHERE s.task = v_task AND s.limit_key = v_key
                  AND s.started_at > clock_timestamp() - make_interval(secs => p_period[v_at]);
                v_left := least(coalesce(v_left, p_rate[v_at] - v_count), p_rate[v_at] - v_count);
            END IF;
            IF v_left IS NOT NULL AND greatest(v_left, 0) < v_want THEN
                v_held := true;
                v_want := greatest(v_left, 0);
            END IF;
            CONTINUE WHEN v_want <= 0;
        END IF;
        RETURN QUERY
        WITH picked AS (
            SELECT c.id FROM aqueue_jobs c
            WHERE c.status = 'queued' AND c.limit_key IS NOT NULL
              AND c.task = v_task AND c.limit_key = v_key
              AND c.scheduled_at <= now() AND (p_queues IS NULL OR c.queue = ANY(p_queues))
              AND NOT EXISTS (SELECT 1 FROM aqueue_queues q WHERE q.name = c.queue AND q.paused)
            ORDER BY c.priority DESC, c.scheduled_at, c.id
            LIMIT v_want
            FOR UPDATE OF c SKIP LOCKED)
        UPDATE aqueue_jobs j
        SET status = 'running', attempts = j.attempts + 1, worker = p_worker, started_at = now(),
            lease_expires_at = now() + make_interval(secs => p_lease), cancel_requested = false
        FROM picked WHERE j.id = picked.id
        RETURNING j.id::text, j.task, j.queue, j.priority, j.args::text, j.kwargs::text,
                  j.attempts, j.max_attempts, j.timeout, j.scheduled_at, j.meta::text,
                  NULL::text, NULL::text, NULL::boolean;
        GET DIAGNOSTICS v_got = ROW_COUNT;
        IF v_got > 0 THEN
            v_taken := v_taken + v_got;
            v_served_task := v_task;
            v_served_key := v_key;
            IF v_at IS NOT NULL AND p_rate[v_at] IS NOT NULL THEN
                INSERT INTO aqueue_limit_starts (task, limit_key, started_at)
                SELECT v_task, v_key, clock_timestamp() FROM generate_series(1, v_got);
            END IF;
        END IF;
    END LOOP;
    IF p_withdraw_at IS NOT NULL AND v_taken >= p_withdraw_at THEN
        DELETE FROM aqueue_offers o WHERE o.worker = p_worker;
    END IF;
    -- The next claim starts after the last pair served, else where this one stopped.
    RETURN QUERY SELECT NULL::text, NULL::text, NULL::text, NULL::smallint, NULL::text,
        NULL::text, NULL::integer, NULL::integer, NULL::float8, NULL::timestamptz, NULL::text,
        coalesce(v_served_task, v_cursor_task), coalesce(v_served_key, v_cursor_key), v_held;
END;
$$;
