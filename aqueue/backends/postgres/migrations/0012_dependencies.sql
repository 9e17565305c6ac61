-- Dependencies (aqueue.dependencies): a job enqueued with after=[...] waits,
-- queued and not due, until its parents have ended. waiting counts the
-- parents that have not; NULL for a job that never had any.
ALTER TABLE aqueue_jobs ADD COLUMN waiting integer;

-- One row per (child, parent). released: the parent's end was applied to the
-- child (once, even if the parent is retried by hand later).
CREATE TABLE aqueue_job_deps (
    child uuid NOT NULL,
    parent uuid NOT NULL,
    run_on_failure boolean NOT NULL DEFAULT false,
    released boolean NOT NULL DEFAULT false,
    PRIMARY KEY (child, parent)
);
-- What a parent's end looks up: only edges not yet applied are in it, so a
-- completion batch whose jobs have no children costs one probe each.
CREATE INDEX aqueue_job_deps_pending ON aqueue_job_deps (parent) WHERE NOT released;

-- Apply the end of these parents (those that ended, or are gone) to their
-- children: a child whose parents all succeeded becomes due now; one whose
-- parent failed or was cancelled is cancelled with that parent named (unless
-- it runs on failure), and its own children after it, in the same transaction.
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
        IF cardinality(v_parents) > 0 THEN
            PERFORM pg_notify('aqueue_done', array_to_string(v_parents, ','));
        END IF;
    END LOOP;
END
$$;

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
    -- Children of the jobs that ended, in this transaction (a separate
    -- statement: it sees a child enqueued while the parent's row was locked).
    -- Jobs without children cost one probe each of an index of pending edges.
    PERFORM aqueue_release(array_agg(DISTINCT d.parent))
    FROM aqueue_job_deps d WHERE d.parent = ANY(p_ids) AND NOT d.released
    HAVING count(*) > 0;
END
$$;
