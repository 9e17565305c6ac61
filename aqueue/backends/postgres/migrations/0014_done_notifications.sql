-- aqueue_done notifications carry at most 200 job ids each. PostgreSQL refuses
-- a payload over 8,000 bytes and fails the statement that sends it: a parent
-- whose failure cancelled more than ~215 waiting children could not have its
-- outcome written, and a rescue that ended as many jobs at once failed every
-- time, leaving them running (the rescue and hand-back statements are in
-- queries.sql). Same function as migration 0012 but for the notification.
CREATE OR REPLACE FUNCTION aqueue_release(p_parents uuid[]) RETURNS void
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
        -- At most 200 ids a notification: a parent with thousands of children
        -- failed, and one payload over 8,000 bytes failed its completion.
        PERFORM pg_notify('aqueue_done', string_agg(c.id::text, ','))
        FROM unnest(v_parents) WITH ORDINALITY AS c(id, n)
        GROUP BY (c.n - 1) / 200;
    END LOOP;
END
$$;
