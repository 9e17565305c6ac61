-- Named queries for the PostgreSQL backend (asyncpg, $n parameters).
-- Channels: aqueue_new carries "<queue> <seconds until due>" and wakes
-- workers; aqueue_done carries comma-separated ids and wakes result readers,
-- at most 200 per notification (a payload over 8,000 bytes fails the statement).
-- aqueue_cancel carries the id of a running job whose cancel was requested;
-- aqueue_handover a job handed to an idle worker (insert_job_offered).
-- {{IF_UNIQUE_KEYS}}: the ON CONFLICT clause for jobs with unique keys (backend.py
-- makes insert_job in two forms, with it and without; insert_jobs_unique has it).
-- Placeholders {{...}} are filled by aqueue.backends.sqlfile.Queries, never with values.

-- name: insert_job
WITH ins AS (
    INSERT INTO aqueue_jobs (id, task, queue, status, priority, args, kwargs, max_attempts,
                             timeout, unique_key, scheduled_at, meta, limit_key)
    VALUES ($1, $2, $3, 'queued', $4, $5::json, $6::json, $7, $8, $9,
            COALESCE($11::timestamptz, now() + make_interval(secs => $10)), $12::jsonb, $13)
    {{IF_UNIQUE_KEYS}}
    RETURNING queue, scheduled_at)
SELECT pg_notify('aqueue_new', queue || ' ' || greatest(0, extract(epoch FROM scheduled_at - now())))
FROM ins;

-- name: insert_job_offered
-- One job due now, with no unique or limit key, while idle workers may stand
-- offered (aqueue/offers.py): the oldest standing offer for its queue is
-- taken and the job written as that worker's running attempt, handed over on
-- aqueue_handover with all the worker needs to start it (its id alone when that
-- would not fit in a notification: the worker then reads the row). No offer:
-- queued and announced, as insert_job does. Says whether an offer was taken.
WITH offer AS (
    DELETE FROM aqueue_offers o
    WHERE o.worker = (
        SELECT f.worker FROM aqueue_offers f
        WHERE f.expires_at > clock_timestamp() AND (f.queues IS NULL OR $3 = ANY(f.queues))
        ORDER BY f.offered_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED)
      AND NOT EXISTS (SELECT 1 FROM aqueue_queues q WHERE q.name = $3 AND q.paused)
    RETURNING o.worker, o.lease, o.token),
ins AS (
    INSERT INTO aqueue_jobs (id, task, queue, status, priority, args, kwargs, max_attempts,
                             timeout, scheduled_at, meta, attempts, worker, started_at,
                             lease_expires_at)
    SELECT $1::uuid, $2::text, $3::text,
           CASE WHEN offer.worker IS NULL THEN 'queued' ELSE 'running' END, $4::smallint,
           $5::json, $6::json, $7::integer, $8::float8,
           now() + make_interval(secs => $10::float8), $9::jsonb,
           CASE WHEN offer.worker IS NULL THEN 0 ELSE 1 END, offer.worker,
           CASE WHEN offer.worker IS NULL THEN NULL ELSE now() END,
           now() + make_interval(secs => offer.lease)
    FROM (SELECT 1) AS one LEFT JOIN offer ON true
    RETURNING id, task, queue, priority, args, kwargs, max_attempts, timeout, scheduled_at,
              meta, worker),
handed AS (
    SELECT ins.worker, offer.token, ins.id, ins.queue,
           json_build_array(ins.worker, offer.token, ins.id, ins.task, ins.queue,
                            ins.priority, ins.args::text, ins.kwargs::text, 1,
                            ins.max_attempts, ins.timeout, extract(epoch FROM ins.scheduled_at),
                            ins.meta::text)::text AS job
    FROM ins LEFT JOIN offer ON true)
SELECT worker IS NOT NULL,
       CASE WHEN worker IS NULL THEN pg_notify('aqueue_new', queue || ' 0')
            WHEN octet_length(job) <= 7900 THEN pg_notify('aqueue_handover', job)
            ELSE pg_notify('aqueue_handover', json_build_array(worker, token, id)::text) END
FROM handed;

-- name: offer
-- An idle worker offers (again) to take a job at once; returns when it first
-- offered, by the database's clock, for handed_over_since.
INSERT INTO aqueue_offers (worker, queues, lease, token, offered_at, expires_at)
VALUES ($1, $2::text[], $3, $5, clock_timestamp(),
        clock_timestamp() + make_interval(secs => $4))
ON CONFLICT (worker) DO UPDATE
SET queues = EXCLUDED.queues, lease = EXCLUDED.lease, token = EXCLUDED.token,
    expires_at = EXCLUDED.expires_at
RETURNING offered_at;

-- name: withdraw_offer
-- Whether the offer still stood (no producer took it).
DELETE FROM aqueue_offers WHERE worker = $1 RETURNING true;

-- name: handed_over_job
-- A job handed over by its id alone (too big for a notification).
SELECT id::text, task, queue, priority, args::text, kwargs::text, attempts, max_attempts,
       timeout, scheduled_at, meta::text
FROM aqueue_jobs WHERE id = $1::uuid AND worker = $2 AND status = 'running' AND attempts = 1;

-- name: handed_over_since
-- Jobs handed over to this worker since it first offered, whose notification
-- it may have missed (its listening connection was lost); it keeps those it
-- does not hold. Only first attempts: a handed-over job is always one.
SELECT id::text, task, queue, priority, args::text, kwargs::text, attempts, max_attempts,
       timeout, scheduled_at, meta::text
FROM aqueue_jobs
WHERE status = 'running' AND worker = $1 AND attempts = 1 AND started_at >= $2
  AND NOT (id = ANY($3::uuid[]));

-- name: batch_rows
-- Not run alone: the INSERT of a batch's rows, {{BATCH_ROWS}} in the two below.
-- Per job: id, args, kwargs (NULL array: all '{}'), unique key (NULL array:
-- none), and the index of its kind; per kind ($6-$14): what its jobs share.
INSERT INTO aqueue_jobs (id, task, queue, status, priority, args, kwargs, max_attempts,
                         timeout, unique_key, scheduled_at, meta, limit_key)
SELECT j.id, k.task, k.queue, 'queued', k.priority, j.args::json,
       COALESCE(j.kwargs, '{}')::json, k.max_attempts, k.timeout, j.unique_key,
       COALESCE(k.run_at, now() + make_interval(secs => k.delay)), k.meta::jsonb, k.limit_key
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::integer[])
     AS j(id, args, kwargs, unique_key, kind)
JOIN unnest($6::text[], $7::text[], $8::smallint[], $9::integer[], $10::float8[],
            $11::float8[], $12::timestamptz[], $13::text[], $14::text[])
     WITH ORDINALITY AS k(task, queue, priority, max_attempts, timeout, delay, run_at, meta,
                          limit_key, kind)
     USING (kind)

-- name: insert_jobs
-- No unique keys, so every row goes in: the wake-ups are computed from the
-- kinds, not from 20,000 returned rows (~15 % of the statement), one per
-- queue and due time, so that a worker also sets a timer for delayed kinds.
WITH ins AS ({{BATCH_ROWS}})
SELECT pg_notify('aqueue_new', n.queue || ' ' || n.due)
FROM (SELECT DISTINCT k.queue,
             greatest(0, COALESCE(extract(epoch FROM k.run_at - now()), k.delay)) AS due
      FROM unnest($7::text[], $11::float8[], $12::timestamptz[]) AS k(queue, delay, run_at)
     ) AS n;

-- name: insert_jobs_unique
-- For batches with unique keys: a job whose key an active job holds is
-- skipped, and only queues that received jobs are woken.
WITH ins AS ({{BATCH_ROWS}} {{IF_UNIQUE_KEYS}} RETURNING queue, scheduled_at)
SELECT pg_notify('aqueue_new', queue || ' ' || greatest(0, extract(epoch FROM min(scheduled_at) - now())))
FROM ins GROUP BY queue;

-- name: key_holders
-- The active jobs holding these keys, and those of these ids that exist.
SELECT unique_key, id::text FROM aqueue_jobs
WHERE (unique_key = ANY($1::text[]) AND status IN ('queued', 'running'))
   OR id = ANY($2::uuid[]);

-- name: claim_jobs
-- The statement lives in aqueue_claim() (functions.sql), which pins its plan.
SELECT * FROM aqueue_claim($1, $2, $3, $4::text[]);

-- name: complete_jobs
-- The statement lives in aqueue_complete() (functions.sql), which pins its plan.
SELECT * FROM aqueue_complete($7, $1::uuid[], $2::integer[], $3::text[], $4::text[],
                              $5::text[], $6::float8[]);

-- name: complete_jobs_with_output
-- complete_jobs, and the attempts' captured output ($8..$12) in the same
-- statement: a job seen ended has its output, at no commit of its own. An
-- output whose job is gone (deleted while the write was on its way) is
-- dropped; one already stored, by its id, stays as it is.
WITH saved AS (
    INSERT INTO aqueue_job_output (job_id, id, attempt, output, cut)
    SELECT o.job_id, o.id, o.attempt, o.output, o.cut
    FROM unnest($8::uuid[], $9::uuid[], $10::int[], $11::text[], $12::bigint[])
             WITH ORDINALITY AS o (job_id, id, attempt, output, cut, n)
    JOIN aqueue_jobs j ON j.id = o.job_id
    ORDER BY o.n
    ON CONFLICT (job_id, id) DO NOTHING
)
SELECT * FROM aqueue_complete($7, $1::uuid[], $2::integer[], $3::text[], $4::text[],
                              $5::text[], $6::float8[]);

-- name: renew_leases
SELECT * FROM aqueue_renew($1, $2, $3::uuid[]);

-- name: rescue_expired_leases
-- Jobs whose lease expired, and those of the workers in $2 (known gone).
-- A job whose cancel was requested ends cancelled; one out of attempts, failed;
-- one queued again keeps the attempt in its history.
-- Queues that got jobs back are woken; readers of jobs that ended are told.
WITH rescued AS (
    UPDATE aqueue_jobs
    SET status = CASE WHEN cancel_requested THEN 'cancelled'
                      WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
        finished_at = CASE WHEN cancel_requested OR attempts >= max_attempts THEN now()
                           ELSE NULL END,
        error = json_build_object(
            'type', CASE WHEN lease_expires_at < now() THEN 'LeaseExpired' ELSE 'WorkerGone' END,
            'message', CASE WHEN lease_expires_at < now() THEN $1 ELSE $3 END
                       || ' (worker ' || COALESCE(worker, '?') || ')',
            'traceback', NULL),
        history = CASE WHEN cancel_requested OR attempts >= max_attempts THEN history
                       ELSE COALESCE(history, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
                           'attempt', attempts, 'started_at', started_at, 'ended_at', now(),
                           'outcome', 'rescued',
                           'error', CASE WHEN lease_expires_at < now() THEN 'LeaseExpired'
                                         ELSE 'WorkerGone' END,
                           'message', 'worker ' || COALESCE(worker, '?'))) END,
        lease_expires_at = NULL, cancel_requested = false
    WHERE status = 'running' AND lease_expires_at IS NOT NULL
      AND (lease_expires_at < now() OR worker = ANY($2::text[]))
    RETURNING id, queue, status)
SELECT count(*) FROM rescued
UNION ALL
SELECT count(pg_notify('aqueue_new', queue || ' 0'))
FROM (SELECT DISTINCT queue FROM rescued WHERE status = 'queued') AS q
UNION ALL
SELECT count(pg_notify('aqueue_done', ids))
FROM (SELECT string_agg(id::text, ',') AS ids
      FROM (SELECT id, (row_number() OVER () - 1) / 200 AS part
            FROM rescued WHERE status <> 'queued') AS ended
      GROUP BY part) AS d;

-- name: hand_back
-- The attempt is given back uncounted, unless a cancel was requested: then the
-- job ends cancelled.
WITH back AS (
    UPDATE aqueue_jobs j
    SET status = CASE WHEN j.cancel_requested THEN 'cancelled' ELSE 'queued' END,
        attempts = CASE WHEN j.cancel_requested THEN j.attempts ELSE j.attempts - 1 END,
        finished_at = CASE WHEN j.cancel_requested THEN now() ELSE NULL END,
        lease_expires_at = NULL, cancel_requested = false
    FROM unnest($1::uuid[], $2::integer[]) AS h(id, attempts)
    WHERE j.id = h.id AND j.attempts = h.attempts AND j.status = 'running' AND j.worker = $3
    RETURNING j.id, j.queue, j.status)
SELECT count(*) FROM back
UNION ALL
SELECT count(pg_notify('aqueue_new', queue || ' 0'))
FROM (SELECT DISTINCT queue FROM back WHERE status = 'queued') AS q
UNION ALL
SELECT count(pg_notify('aqueue_done', ids))
FROM (SELECT string_agg(id::text, ',') AS ids
      FROM (SELECT id, (row_number() OVER () - 1) / 200 AS part
            FROM back WHERE status = 'cancelled') AS ended
      GROUP BY part) AS d;

-- name: set_progress
UPDATE aqueue_jobs SET progress = $3::json
WHERE id = $1 AND attempts = $2 AND status = 'running' AND worker = $4;

-- name: get_job
SELECT {{JOB_COLUMNS}} FROM aqueue_jobs WHERE id = $1;

-- name: get_jobs
SELECT {{JOB_COLUMNS}} FROM aqueue_jobs WHERE id = ANY($1::uuid[]);

-- name: cancel_job
-- A queued job ends at once (its readers are told); the worker holding a
-- running one is told on aqueue_cancel, so it stops it within milliseconds.
WITH changed AS (
    UPDATE aqueue_jobs
    SET status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
        finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END,
        cancel_requested = (status = 'running')
    WHERE id = $1 AND status IN ('queued', 'running')
    RETURNING status)
SELECT status, CASE WHEN status = 'cancelled' THEN pg_notify('aqueue_done', $1::text) IS NULL
                    ELSE pg_notify('aqueue_cancel', $1::text) IS NULL END
FROM changed;

-- name: job_status
SELECT status FROM aqueue_jobs WHERE id = $1;

-- name: retry_job
WITH retried AS (
    UPDATE aqueue_jobs
    SET status = 'queued', attempts = 0, scheduled_at = now(), started_at = NULL,
        finished_at = NULL, result = NULL, cancel_requested = false, lease_expires_at = NULL,
        history = CASE WHEN started_at IS NULL THEN history
                       ELSE COALESCE(history, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
                           'attempt', attempts, 'started_at', started_at,
                           'ended_at', finished_at, 'outcome', 'retried by hand',
                           -- jsonb refuses U+0000: its copy here gets U+FFFD (as in aqueue_complete).
                           'error', replace(error::text, '\u0000', '\ufffd')::jsonb ->> 'type',
                           'message', left(replace(error::text, '\u0000', '\ufffd')::jsonb
                                           ->> 'message', 500))) END
    WHERE id = $1 AND status IN ('failed', 'cancelled')
    RETURNING queue)
SELECT pg_notify('aqueue_new', queue || ' 0') FROM retried;

-- name: reschedule_job
-- A queued job (not one waiting for parents) made due at $3 (NULL: now) when
-- $2, and given priority $4 unless NULL (the dashboard's run now, priority, due time).
WITH moved AS (
    UPDATE aqueue_jobs
    SET scheduled_at = CASE WHEN $2 THEN COALESCE($3::timestamptz, now()) ELSE scheduled_at END,
        priority = COALESCE($4, priority)
    WHERE id = $1::uuid AND status = 'queued' AND COALESCE(waiting, 0) = 0
    RETURNING queue, scheduled_at)
SELECT pg_notify('aqueue_new', queue || ' ' || greatest(0, extract(epoch FROM scheduled_at - now())))
FROM moved;

-- name: queue_counts
-- Each part is read from indexes alone (index-only once vacuumed): queued
-- from the claim index and the limited jobs' index, running from the lease
-- index, failed from the problems index. The finished history is never read.
SELECT queue, 'queued', count(*), count(*) FILTER (WHERE scheduled_at <= now()),
       min(scheduled_at), now()
FROM (SELECT queue, scheduled_at FROM aqueue_jobs WHERE status = 'queued' AND limit_key IS NULL
      UNION ALL
      SELECT queue, scheduled_at FROM aqueue_jobs
      WHERE status = 'queued' AND limit_key IS NOT NULL) AS queued
GROUP BY queue
UNION ALL
SELECT queue, 'running', count(*), 0, NULL, now()
FROM aqueue_jobs WHERE lease_expires_at IS NOT NULL AND status = 'running' GROUP BY queue
UNION ALL
SELECT queue, 'failed', count(*), 0, NULL, now()
FROM aqueue_jobs WHERE status = 'failed' GROUP BY queue;

-- name: recent_finished
-- Read from aqueue_jobs_finished alone: only the last hour's entries.
SELECT queue, status, count(*),
       count(*) FILTER (WHERE finished_at >= now() - make_interval(secs => $2))
FROM aqueue_jobs WHERE finished_at >= now() - make_interval(secs => $1)
GROUP BY queue, status;

-- name: delete_job
-- A running job is not deleted: its worker holds it (cancel it instead).
WITH gone AS (DELETE FROM aqueue_jobs WHERE id = $1 AND status <> 'running' RETURNING status)
SELECT status FROM gone
UNION ALL
SELECT status FROM aqueue_jobs WHERE id = $1 AND status = 'running';

-- name: import_jobs
-- Whole rows as exported; one that exists (by id, or an active unique key)
-- is left alone. The ids returned are those inserted. As aqueue_complete()
-- writes history, a U+0000 in it (jsonb refuses one) becomes U+FFFD.
INSERT INTO aqueue_jobs (id, task, queue, status, priority, attempts, max_attempts, timeout,
                         args, kwargs, result, error, progress, history, meta, unique_key,
                         worker, cancel_requested, created_at, scheduled_at, started_at,
                         finished_at)
SELECT id, task, queue, status, priority, attempts, max_attempts, timeout, args::json,
       kwargs::json, result::json, error::json, progress::json,
       replace(history, '\u0000', '\ufffd')::jsonb, meta::jsonb,
       unique_key, worker, cancel_requested, created_at, scheduled_at, started_at, finished_at
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::smallint[], $6::integer[],
            $7::integer[], $8::float8[], $9::text[], $10::text[], $11::text[], $12::text[],
            $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::boolean[],
            $19::timestamptz[], $20::timestamptz[], $21::timestamptz[], $22::timestamptz[])
     AS j(id, task, queue, status, priority, attempts, max_attempts, timeout, args, kwargs,
          result, error, progress, history, meta, unique_key, worker, cancel_requested,
          created_at, scheduled_at, started_at, finished_at)
ON CONFLICT DO NOTHING
RETURNING id;

-- name: expired_leases
-- Running jobs whose lease ran out over $1 seconds ago: nobody rescues them.
SELECT count(*) FROM aqueue_jobs
WHERE lease_expires_at < now() - make_interval(secs => $1);

-- name: stats
SELECT queue, status, count(*) FROM aqueue_jobs GROUP BY queue, status;

-- name: count_purgeable
SELECT count(*) FROM aqueue_jobs
WHERE finished_at < now() - make_interval(secs => $1) AND status = ANY($2::text[]);

-- name: purge_batch
DELETE FROM aqueue_jobs WHERE id IN (
    SELECT id FROM aqueue_jobs
    WHERE finished_at < now() - make_interval(secs => $1) AND status = ANY($2::text[])
    LIMIT $3);

-- name: register_worker
INSERT INTO aqueue_workers (name, host, pid, queues, concurrency, version, status, expires_at,
                            node)
VALUES ($1, $2, $3, $4::json, $5, $6, 'running', now() + make_interval(secs => $7), $8)
ON CONFLICT (name) DO UPDATE
SET status = 'running', heartbeat_at = now(), expires_at = EXCLUDED.expires_at,
    stopped_at = NULL;

-- name: heartbeat_worker
-- A worker marked dead that beats again (it was only stalled) is running again.
UPDATE aqueue_workers
SET heartbeat_at = now(), expires_at = now() + make_interval(secs => $2), status = 'running'
WHERE name = $1 AND status <> 'stopped';

-- name: deregister_worker
UPDATE aqueue_workers SET status = 'stopped', stopped_at = now() WHERE name = $1;

-- name: mark_dead_workers
UPDATE aqueue_workers SET status = 'dead' WHERE status = 'running' AND expires_at < now();

-- name: prune_workers
DELETE FROM aqueue_workers
WHERE status <> 'running' AND COALESCE(stopped_at, expires_at) < now() - make_interval(secs => $1);

-- name: list_workers
-- A worker whose heartbeat ran out shows as dead at once, before a sweep marks
-- it; stopped and dead ones only for $1 seconds (then a sweep deletes them).
SELECT name, host, pid, queues::text, concurrency, version,
       CASE WHEN status = 'running' AND expires_at < now() THEN 'dead' ELSE status END,
       started_at, heartbeat_at, expires_at, stopped_at
FROM aqueue_workers
WHERE (status = 'running' AND expires_at >= now())
   OR COALESCE(stopped_at, expires_at) >= now() - make_interval(secs => $1)
ORDER BY status <> 'running', started_at DESC;

-- name: workers_on_node
-- Workers whose pids live where this one's do (same boot, same pid namespace).
SELECT name, pid FROM aqueue_workers WHERE node = $1;

-- name: running_jobs_by_worker
-- Running rows are exactly the leased ones: the lease index finds them.
SELECT worker, id::text FROM aqueue_jobs
WHERE lease_expires_at IS NOT NULL AND status = 'running'
ORDER BY worker, id;

-- name: set_paused
-- A resumed queue's workers are woken at once.
WITH changed AS (
    INSERT INTO aqueue_queues (name, paused) VALUES ($1, $2)
    ON CONFLICT (name) DO UPDATE SET paused = EXCLUDED.paused, changed_at = now()
    RETURNING name, paused)
SELECT CASE WHEN NOT paused THEN pg_notify('aqueue_new', name || ' 0') IS NULL END FROM changed;

-- name: queue_states
SELECT name, paused FROM aqueue_queues ORDER BY name;

-- name: start_schedule
-- A schedule's first tick; no row back when another worker wrote one first.
INSERT INTO aqueue_periodic (name, last_tick) VALUES ($1, $2)
ON CONFLICT (name) DO NOTHING
RETURNING name;

-- name: advance_tick
-- Compare and set: no row back when another worker moved the tick first.
UPDATE aqueue_periodic SET last_tick = $2, updated_at = now()
WHERE name = $1 AND last_tick = $3
RETURNING name;

-- name: set_meta
UPDATE aqueue_jobs SET meta = $2::jsonb WHERE id = $1::uuid;

-- name: last_ticks
SELECT name, last_tick FROM aqueue_periodic;

-- name: purge_task_batch
-- Succeeded jobs of one task past its result_ttl: walks that task's finished
-- index from its oldest entry (ids grow with time).
DELETE FROM aqueue_jobs WHERE id IN (
    SELECT id FROM aqueue_jobs
    WHERE task = $1 AND finished_at IS NOT NULL AND status = 'succeeded'
      AND finished_at < now() - make_interval(secs => $2)
    ORDER BY id LIMIT $3);

-- name: claim_limited
-- aqueue/limits.py's claim in one round trip (functions.sql: aqueue_claim_limited).
SELECT * FROM aqueue_claim_limited($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);

-- name: lock_parents
-- Shared locks: a parent cannot end between reading its status and the
-- child's edges being written (its end then waits, and sees them).
SELECT id::text, status FROM aqueue_jobs WHERE id = ANY($1::uuid[]) FOR SHARE;

-- name: insert_edges
INSERT INTO aqueue_job_deps (child, parent, run_on_failure)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::boolean[]);

-- name: insert_tags
INSERT INTO aqueue_job_tags (job_id, tag)
SELECT * FROM unnest($1::uuid[], $2::text[]) ON CONFLICT DO NOTHING;

-- name: tag_counts
SELECT j.status::text, count(*) FROM aqueue_job_tags t
JOIN aqueue_jobs j ON j.id = t.job_id WHERE t.tag = $1 GROUP BY j.status;

-- name: set_waiting
-- Adds: a new child starts at NULL, and a batch's callback gains its new members.
UPDATE aqueue_jobs j SET waiting = COALESCE(j.waiting, 0) + c.n
FROM unnest($1::uuid[], $2::integer[]) AS c(id, n) WHERE j.id = c.id AND j.status = 'queued';

-- name: insert_batch
INSERT INTO aqueue_batches (id, callbacks, anchor) VALUES ($1::uuid, $2, $3::uuid);

-- name: lock_batch
SELECT callbacks, closed_at IS NOT NULL FROM aqueue_batches WHERE id = $1::uuid FOR UPDATE;

-- name: batch_state
SELECT callbacks, closed_at FROM aqueue_batches WHERE id = $1::uuid;

-- name: close_batch
UPDATE aqueue_batches SET closed_at = clock_timestamp() WHERE id = $1::uuid;

-- name: release_hold
-- A batch's close: each callback's count loses the hold; one at zero is due.
WITH changed AS (
    UPDATE aqueue_jobs
    SET scheduled_at = CASE WHEN waiting <= 1 THEN now() ELSE scheduled_at END,
        waiting = greatest(waiting - 1, 0)
    WHERE id = ANY($1::uuid[]) AND status = 'queued' AND waiting > 0
    RETURNING queue, waiting)
SELECT pg_notify('aqueue_new', queue || ' 0') FROM changed WHERE waiting = 0;

-- name: release
SELECT aqueue_release($1::uuid[]);

-- name: release_ended
-- Parents whose end was not applied (a rescue, a cancel, a deleted parent):
-- only edges not yet applied are read.
SELECT aqueue_release(array_agg(DISTINCT d.parent))
FROM aqueue_job_deps d LEFT JOIN aqueue_jobs p ON p.id = d.parent
WHERE NOT d.released AND (p.id IS NULL OR p.status IN ('succeeded', 'failed', 'cancelled'))
HAVING count(*) > 0;

-- name: job_parents
SELECT parent::text, released FROM aqueue_job_deps WHERE child = $1::uuid ORDER BY parent;

-- name: job_children
SELECT child::text FROM aqueue_job_deps WHERE parent = $1::uuid ORDER BY child;

-- name: shift_schedules
-- aqueue.testing's clock: time passing, seen by the queue as due times drawing
-- nearer. Jobs waiting for parents keep their far-off mark.
UPDATE aqueue_jobs SET scheduled_at = scheduled_at - make_interval(secs => $1)
WHERE status = 'queued' AND COALESCE(waiting, 0) = 0;

-- name: next_due_in
SELECT extract(epoch FROM min(scheduled_at) - now())::float8 FROM aqueue_jobs
WHERE status = 'queued' AND COALESCE(waiting, 0) = 0;

-- name: has_due
-- The idle worker's probe where LISTEN is not to be had: one read, no lock.
SELECT EXISTS (SELECT 1 FROM aqueue_jobs
               WHERE status = 'queued' AND scheduled_at <= now() AND limit_key IS NULL
                 AND ($1::text[] IS NULL OR queue = ANY($1::text[]))
                 AND NOT EXISTS (SELECT 1 FROM aqueue_queues p
                                 WHERE p.name = aqueue_jobs.queue AND p.paused))
    OR EXISTS (SELECT 1 FROM aqueue_jobs
               WHERE status = 'queued' AND limit_key IS NOT NULL AND scheduled_at <= now()
                 AND ($1::text[] IS NULL OR queue = ANY($1::text[])));

-- name: start_session
-- A dashboard log-in; sessions past their expiry go at the same time.
WITH gone AS (DELETE FROM aqueue_sessions WHERE expires_at <= now())
INSERT INTO aqueue_sessions (key, expires_at) VALUES ($1, now() + make_interval(secs => $2));

-- name: session_alive
SELECT 1 FROM aqueue_sessions WHERE key = $1 AND expires_at > now();

-- name: end_session
DELETE FROM aqueue_sessions WHERE key = $1;

-- name: cancel_requests
-- Which of a worker's running jobs have a cancel request: read by a worker
-- that no notification reaches (aqueue/cancel_watch.py).
SELECT id::text FROM aqueue_jobs
WHERE id = ANY($2::uuid[]) AND status = 'running' AND worker = $1 AND cancel_requested;

-- name: claim_jobs_withdrawing
-- A claim by a worker whose offer stands (aqueue/offers.py): when the claim
-- fills its free slots ($5), the offer goes in the same statement, so that no
-- producer hands a job to a worker that has no slot left to start it.
WITH claimed AS (SELECT * FROM aqueue_claim($1, $2, $3, $4::text[])),
withdrawn AS (
    DELETE FROM aqueue_offers
    WHERE worker = $1 AND (SELECT count(*) FROM claimed) >= $5
    RETURNING 1)
SELECT * FROM claimed;

-- name: elect
-- Take the lead of a duty nobody holds (or whose holder let it lapse), or
-- keep it; a new holder takes the next term. The holder and term after.
WITH taken AS (
    INSERT INTO aqueue_leaders AS l (duty, holder, term, expires_at)
    VALUES ($1, $2, 1, now() + make_interval(secs => $3))
    ON CONFLICT (duty) DO UPDATE
    SET holder = EXCLUDED.holder,
        term = CASE WHEN l.holder = EXCLUDED.holder THEN l.term ELSE l.term + 1 END,
        expires_at = EXCLUDED.expires_at
    WHERE l.holder = EXCLUDED.holder OR l.expires_at <= now()
    RETURNING holder, term)
SELECT holder, term FROM taken
UNION ALL
SELECT holder, term FROM aqueue_leaders
WHERE duty = $1 AND NOT EXISTS (SELECT 1 FROM taken);

-- name: resign
-- Lapsed at once, not deleted: the next holder's term follows this one's.
UPDATE aqueue_leaders SET expires_at = '-infinity' WHERE duty = $1 AND holder = $2;

-- name: job_outputs
SELECT id::text, attempt, output, cut, created_at FROM aqueue_job_output
WHERE job_id = $1::uuid ORDER BY created_at, attempt;

-- name: job_step
SELECT result FROM aqueue_job_steps WHERE job_id = $1::uuid AND name = $2;

-- name: store_step
-- Fenced: only while the attempt holds the job. One stored already stays;
-- either way the stored result is returned (none: the attempt lost the job).
WITH stored AS (
    INSERT INTO aqueue_job_steps (job_id, name, attempt, result)
    SELECT id, $4, $2, $5 FROM aqueue_jobs
    WHERE id = $1::uuid AND attempts = $2 AND status = 'running' AND worker = $3
    ON CONFLICT (job_id, name) DO NOTHING
    RETURNING result)
SELECT result FROM stored
UNION ALL
SELECT result FROM aqueue_job_steps WHERE job_id = $1::uuid AND name = $4
LIMIT 1;

-- name: job_steps
SELECT name, attempt, result, created_at FROM aqueue_job_steps
WHERE job_id = $1::uuid ORDER BY created_at, name;

-- name: send_signal
-- Only to a job not finished yet; the first signal of a name stays. A job
-- parked waiting for it (its wait step stored) is due at once.
WITH sent AS (
    INSERT INTO aqueue_job_signals (job_id, name, payload)
    SELECT id, $2, $3 FROM aqueue_jobs WHERE id = $1::uuid AND status IN ('queued', 'running')
    ON CONFLICT (job_id, name) DO NOTHING
    RETURNING job_id),
woken AS (
    UPDATE aqueue_jobs SET scheduled_at = now()
    WHERE id IN (SELECT job_id FROM sent) AND status = 'queued' AND scheduled_at > now()
      AND EXISTS (SELECT 1 FROM aqueue_job_steps WHERE job_id = $1::uuid AND name = $4))
SELECT count(*) FROM sent;

-- name: job_signal
SELECT payload FROM aqueue_job_signals WHERE job_id = $1::uuid AND name = $2;

-- name: job_signals
SELECT name, payload, created_at FROM aqueue_job_signals
WHERE job_id = $1::uuid ORDER BY created_at, name;

-- name: ensure_key
-- A row for the key, so that producers of it have one to queue up on.
INSERT INTO aqueue_unique_keys (unique_key) VALUES ($1) ON CONFLICT DO NOTHING;

-- name: lock_key
SELECT job_id::text, extract(epoch FROM clock_timestamp() - created_at)::float8
FROM aqueue_unique_keys WHERE unique_key = $1 FOR UPDATE;

-- name: record_key
UPDATE aqueue_unique_keys SET job_id = $2::uuid, created_at = clock_timestamp()
WHERE unique_key = $1;

-- name: replace_job
-- A debounce: the queued holder of a key takes the new arguments and due time.
WITH changed AS (
    UPDATE aqueue_jobs
    SET args = $2::json, kwargs = $3::json, priority = $4,
        scheduled_at = COALESCE($6::timestamptz, now() + make_interval(secs => $5)),
        meta = $7::jsonb
    WHERE id = $1::uuid AND status = 'queued' AND COALESCE(waiting, 0) = 0
    RETURNING queue, scheduled_at)
SELECT pg_notify('aqueue_new', queue || ' ' || greatest(0, extract(epoch FROM scheduled_at - now())))
FROM changed;

-- name: add_flow
-- Rows come sorted by (minute, queue): workers adding to the same rows lock
-- them in one order.
INSERT INTO aqueue_flow AS f (minute, queue, succeeded, failed, retried)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[])
ON CONFLICT (minute, queue) DO UPDATE
SET succeeded = f.succeeded + excluded.succeeded,
    failed = f.failed + excluded.failed,
    retried = f.retried + excluded.retried;

-- name: set_depths
INSERT INTO aqueue_flow (minute, queue, depth)
SELECT $1::bigint, u.queue, u.depth FROM unnest($2::text[], $3::bigint[]) AS u(queue, depth)
ON CONFLICT (minute, queue) DO UPDATE SET depth = excluded.depth;

-- name: prune_flow
DELETE FROM aqueue_flow WHERE minute < $1;

-- name: flow_of_queue
SELECT minute, queue, succeeded, failed, retried, depth FROM aqueue_flow
WHERE minute >= $1 AND queue = $2
ORDER BY minute;

-- name: flow_of_all
SELECT minute, '*', sum(succeeded), sum(failed), sum(retried), sum(depth) FROM aqueue_flow
WHERE minute >= $1
GROUP BY minute
ORDER BY minute;

-- name: job_names
-- Every task (or queue) name jobs have, without reading a row per job:
-- finished jobs' by a skip scan of their index of task (or queue) names (one
-- probe per name), the others from
-- the indexes of queued and running jobs.
WITH RECURSIVE finished ({{column}}) AS (
    SELECT min({{column}}) FROM aqueue_jobs WHERE finished_at IS NOT NULL
    UNION ALL
    SELECT (SELECT min(j.{{column}}) FROM aqueue_jobs AS j
            WHERE j.finished_at IS NOT NULL AND j.{{column}} > f.{{column}})
    FROM finished AS f WHERE f.{{column}} IS NOT NULL
)
SELECT {{column}} FROM finished WHERE {{column}} IS NOT NULL
UNION SELECT {{column}} FROM aqueue_jobs WHERE status = 'queued' AND limit_key IS NULL
UNION SELECT {{column}} FROM aqueue_jobs WHERE status = 'queued' AND limit_key IS NOT NULL
UNION SELECT {{column}} FROM aqueue_jobs WHERE lease_expires_at IS NOT NULL AND status = 'running'
ORDER BY 1;

-- name: wal_position
-- On the primary: how far its WAL goes now.
SELECT pg_current_wal_lsn()::text;

-- name: replica_lag
-- On a standby, given the primary's wal_position read just before: 0 when it
-- has replayed up to there (an idle primary writes nothing, and the age of
-- the last commit replayed would grow for no reason), else that commit's age
-- — the primary has moved on since (a standby cut off from it included;
-- one that replayed no commit since it started: the time since then).
-- NULL on a database that is not a standby.
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN NULL
    WHEN pg_last_wal_replay_lsn() >= $1::text::pg_lsn THEN 0.0
    ELSE greatest(0.0, extract(epoch FROM now() - coalesce(pg_last_xact_replay_timestamp(),
                                                           pg_postmaster_start_time())))::float8
END;
