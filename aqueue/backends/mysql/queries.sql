-- Named queries for the MySQL/MariaDB backend (aiomysql, %s parameters).
-- {{ids}}, {{keys}}, {{queues}} ... expand to one %s placeholder per item.
-- {{NOW}} is UTC_TIMESTAMP(6): the database's clock, independent of time_zone.
-- MySQL and MariaDB assign an UPDATE's SET list left to right, each seeing the
-- values assigned before it: columns that others read are assigned last.

-- name: insert_job
INSERT INTO aqueue_jobs (id, task, queue, status, neg_priority, args, kwargs, max_attempts,
                         timeout, unique_key, created_at, scheduled_at, meta, limit_key)
VALUES (%s, %s, %s, 'queued', %s, %s, %s, %s, %s, %s, {{NOW}},
        COALESCE(%s, {{NOW}} + INTERVAL %s MICROSECOND), %s, %s)
ON DUPLICATE KEY UPDATE id = id;

-- name: insert_jobs
INSERT INTO aqueue_jobs (id, task, queue, status, neg_priority, args, kwargs, max_attempts,
                         timeout, unique_key, created_at, scheduled_at, meta, limit_key)
SELECT j.id, j.task, j.queue, 'queued', -j.priority, j.args, j.kwargs, j.max_attempts,
       j.timeout, j.unique_key, {{NOW}}, COALESCE(j.run_at, {{NOW}} + INTERVAL j.delay_us MICROSECOND),
       j.meta, j.limit_key
FROM JSON_TABLE(%s, '$[*]' COLUMNS (
    id CHAR(36) PATH '$.id',
    task VARCHAR(255) PATH '$.task',
    queue VARCHAR(255) PATH '$.queue',
    priority SMALLINT PATH '$.priority',
    args LONGTEXT PATH '$.args',
    kwargs LONGTEXT PATH '$.kwargs',
    max_attempts INT PATH '$.max_attempts',
    timeout DOUBLE PATH '$.timeout',
    unique_key VARCHAR(255) PATH '$.unique_key',
    delay_us BIGINT PATH '$.delay_us',
    run_at DATETIME(6) PATH '$.run_at',
    meta LONGTEXT PATH '$.meta',
    limit_key VARCHAR(255) PATH '$.limit_key')) AS j
ON DUPLICATE KEY UPDATE id = aqueue_jobs.id;

-- name: key_holders
-- The active jobs holding these keys, and those of these ids that exist.
SELECT unique_key, id FROM aqueue_jobs
WHERE active_unique_key IN ({{keys}}) OR id IN ({{ids}});

-- name: select_claimable
SELECT id, task, queue, -neg_priority, args, kwargs, attempts + 1, max_attempts, timeout,
       scheduled_at, meta
FROM aqueue_jobs
WHERE claim_status = 'queued' AND scheduled_at <= {{NOW}}
  AND NOT EXISTS (SELECT 1 FROM aqueue_queues p WHERE p.name = aqueue_jobs.queue AND p.paused)
ORDER BY neg_priority, scheduled_at, id
LIMIT %s
FOR UPDATE SKIP LOCKED;

-- name: select_claimable_in_queues
SELECT id, task, queue, -neg_priority, args, kwargs, attempts + 1, max_attempts, timeout,
       scheduled_at, meta
FROM aqueue_jobs
WHERE claim_status = 'queued' AND scheduled_at <= {{NOW}} AND queue IN ({{queues}})
  AND NOT EXISTS (SELECT 1 FROM aqueue_queues p WHERE p.name = aqueue_jobs.queue AND p.paused)
ORDER BY neg_priority, scheduled_at, id
LIMIT %s
FOR UPDATE SKIP LOCKED;

-- name: mark_claimed
UPDATE aqueue_jobs
SET status = 'running', attempts = attempts + 1, worker = %s, started_at = {{NOW}},
    lease_expires_at = {{NOW}} + INTERVAL %s MICROSECOND, cancel_requested = 0
WHERE id IN ({{ids}});

-- name: complete_job
-- A final outcome. (Retries take retry_attempt: MariaDB parses every
-- statement it is sent, and the history expression is only needed there.)
UPDATE aqueue_jobs
SET result = %(result)s, error = %(error)s, lease_expires_at = NULL, finished_at = {{NOW}},
    status = %(status)s, cancel_requested = 0
WHERE id = %(id)s AND attempts = %(attempts)s AND status = 'running' AND worker = %(worker)s;

-- name: retry_attempt
-- A retry of a job whose cancel was requested ends it cancelled; any other
-- keeps the attempt in its history.
UPDATE aqueue_jobs
SET history = CASE WHEN %(status)s = 'queued' AND NOT cancel_requested
                   THEN JSON_ARRAY_APPEND(COALESCE(history, '[]'), '$', JSON_OBJECT(
                       'attempt', attempts, 'started_at', started_at, 'ended_at', {{NOW}},
                       'outcome', 'retried', 'error', JSON_VALUE(%(error)s, '$.type'),
                       'message', LEFT(JSON_VALUE(%(error)s, '$.message'), 500)))
                   ELSE history END,
    result = %(result)s, error = %(error)s, lease_expires_at = NULL,
    finished_at = CASE WHEN %(status)s = 'queued' AND NOT cancel_requested THEN NULL
                       ELSE {{NOW}} END,
    scheduled_at = CASE WHEN %(status)s = 'queued' AND NOT cancel_requested
                        THEN {{NOW}} + INTERVAL %(delay_us)s MICROSECOND ELSE scheduled_at END,
    status = CASE WHEN %(status)s = 'queued' AND cancel_requested THEN 'cancelled'
                  ELSE %(status)s END,
    cancel_requested = 0
WHERE id = %(id)s AND attempts = %(attempts)s AND status = 'running' AND worker = %(worker)s;

-- name: snooze_attempt
-- aqueue.Snooze: queued again, the attempt given back and counted in
-- meta.snoozes (result, error and history left as they were); a job whose
-- cancel was requested ends cancelled. MariaDB applies assignments left to
-- right: cancel_requested is read before it is cleared, last.
UPDATE aqueue_jobs
SET lease_expires_at = NULL,
    finished_at = CASE WHEN cancel_requested THEN {{NOW}} ELSE NULL END,
    scheduled_at = CASE WHEN cancel_requested THEN scheduled_at
                        ELSE {{NOW}} + INTERVAL %(delay_us)s MICROSECOND END,
    meta = CASE WHEN cancel_requested THEN meta
                ELSE JSON_SET(COALESCE(meta, '{}'), '$.snoozes',
                              COALESCE(JSON_VALUE(meta, '$.snoozes'), 0) + 1) END,
    attempts = CASE WHEN cancel_requested THEN attempts ELSE attempts - 1 END,
    status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END,
    cancel_requested = 0
WHERE id = %(id)s AND attempts = %(attempts)s AND status = 'running' AND worker = %(worker)s;

-- name: renew_leases
UPDATE aqueue_jobs SET lease_expires_at = {{NOW}} + INTERVAL %s MICROSECOND
WHERE status = 'running' AND worker = %s AND id IN ({{ids}});

-- name: leases_held
SELECT id, attempts, cancel_requested FROM aqueue_jobs
WHERE status = 'running' AND worker = %s AND id IN ({{ids}});

-- name: rescue_expired_leases
-- Jobs whose lease expired, and those of the workers in {{workers}} (known gone).
-- A job whose cancel was requested ends cancelled; one out of attempts, failed;
-- one queued again keeps the attempt in its history.
UPDATE aqueue_jobs
SET history = CASE WHEN cancel_requested OR attempts >= max_attempts THEN history
                   ELSE JSON_ARRAY_APPEND(COALESCE(history, '[]'), '$', JSON_OBJECT(
                       'attempt', attempts, 'started_at', started_at, 'ended_at', {{NOW}},
                       'outcome', 'rescued',
                       'error', IF(lease_expires_at < {{NOW}}, 'LeaseExpired', 'WorkerGone'),
                       'message', CONCAT('worker ', COALESCE(worker, '?')))) END,
    error = JSON_OBJECT('type', IF(lease_expires_at < {{NOW}}, 'LeaseExpired', 'WorkerGone'),
                        'message', CONCAT(IF(lease_expires_at < {{NOW}}, %s, %s),
                                          ' (worker ', COALESCE(worker, '?'), ')'),
                        'traceback', NULL),
    finished_at = CASE WHEN cancel_requested OR attempts >= max_attempts THEN {{NOW}}
                       ELSE NULL END,
    lease_expires_at = NULL,
    status = CASE WHEN cancel_requested THEN 'cancelled'
                  WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
    cancel_requested = 0
WHERE status = 'running' AND (lease_expires_at < {{NOW}} OR worker IN ({{workers}}));

-- name: hand_back
-- The attempt is given back uncounted, unless a cancel was requested: then the
-- job ends cancelled.
UPDATE aqueue_jobs
SET attempts = CASE WHEN cancel_requested THEN attempts ELSE attempts - 1 END,
    finished_at = CASE WHEN cancel_requested THEN {{NOW}} ELSE NULL END,
    lease_expires_at = NULL,
    status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END,
    cancel_requested = 0
WHERE id = %s AND attempts = %s AND status = 'running' AND worker = %s;

-- name: set_progress
UPDATE aqueue_jobs SET progress = %s
WHERE id = %s AND attempts = %s AND status = 'running' AND worker = %s;

-- name: get_job
SELECT {{JOB_COLUMNS}} FROM aqueue_jobs WHERE id = %s;

-- name: get_jobs
SELECT {{JOB_COLUMNS}} FROM aqueue_jobs WHERE id IN ({{ids}});

-- name: cancel_job
UPDATE aqueue_jobs
SET finished_at = CASE WHEN status = 'queued' THEN {{NOW}} ELSE finished_at END,
    cancel_requested = CASE WHEN status = 'running' THEN 1 ELSE 0 END,
    status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END
WHERE id = %s AND status IN ('queued', 'running');

-- name: job_status
SELECT status FROM aqueue_jobs WHERE id = %s;

-- name: retry_job
UPDATE aqueue_jobs
SET history = IF(started_at IS NULL, history, JSON_ARRAY_APPEND(COALESCE(history, '[]'), '$',
        JSON_OBJECT('attempt', attempts, 'started_at', started_at, 'ended_at', finished_at,
                    'outcome', 'retried by hand', 'error', JSON_VALUE(error, '$.type'),
                    'message', LEFT(JSON_VALUE(error, '$.message'), 500)))),
    attempts = 0, scheduled_at = {{NOW}}, started_at = NULL, finished_at = NULL, result = NULL,
    cancel_requested = 0, lease_expires_at = NULL, status = 'queued'
WHERE id = %s AND status IN ('failed', 'cancelled');

-- name: reschedule_job
-- A queued job (not one waiting for parents) made due at the given time (NULL:
-- now) when asked, and given a priority unless NULL (the dashboard's actions).
UPDATE aqueue_jobs
SET scheduled_at = IF(%s, COALESCE(%s, {{NOW}}), scheduled_at),
    neg_priority = COALESCE(%s, neg_priority)
WHERE id = %s AND status = 'queued' AND COALESCE(waiting, 0) = 0;

-- name: movable_job
SELECT id FROM aqueue_jobs WHERE id = %s AND status = 'queued' AND COALESCE(waiting, 0) = 0;

-- name: queue_counts
-- Read from aqueue_jobs_status_queue alone: the cost is the number of queued,
-- running and failed jobs, never the finished history. Grouped in the index's
-- order (status, queue): grouped the other way round, MariaDB builds a
-- temporary table and sorts it, which took the query from 24 to 57 ms at
-- 100,000 queued jobs.
SELECT queue, status, count(*), COALESCE(SUM(scheduled_at <= {{NOW}}), 0),
       min(scheduled_at), {{NOW}}
FROM aqueue_jobs WHERE status IN ('queued', 'running', 'failed')
GROUP BY status, queue;

-- name: recent_finished
-- Read from aqueue_jobs_finished alone: only the last hour's entries.
SELECT queue, status, count(*),
       COALESCE(SUM(finished_at >= {{NOW}} - INTERVAL %s MICROSECOND), 0)
FROM aqueue_jobs WHERE finished_at >= {{NOW}} - INTERVAL %s MICROSECOND
GROUP BY queue, status;

-- name: lock_job_status
SELECT status FROM aqueue_jobs WHERE id = %s FOR UPDATE;

-- name: delete_job
DELETE FROM aqueue_jobs WHERE id = %s;

-- name: import_jobs
-- Whole rows as exported; one that exists (by id, or an active unique key)
-- is left alone.
INSERT INTO aqueue_jobs (id, task, queue, status, neg_priority, attempts, max_attempts, timeout,
                         args, kwargs, result, error, progress, history, meta, unique_key,
                         worker, cancel_requested, created_at, scheduled_at, started_at,
                         finished_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON DUPLICATE KEY UPDATE id = id;

-- name: count_ids
SELECT count(*) FROM aqueue_jobs WHERE id IN ({{ids}});

-- name: expired_leases
-- Running jobs whose lease ran out over the given time ago: nobody rescues them.
SELECT count(*) FROM aqueue_jobs
WHERE status = 'running' AND lease_expires_at < {{NOW}} - INTERVAL %s MICROSECOND;

-- name: stats
SELECT queue, status, count(*) FROM aqueue_jobs GROUP BY queue, status;

-- name: count_purgeable
SELECT count(*) FROM aqueue_jobs
WHERE finished_at < {{NOW}} - INTERVAL %s MICROSECOND AND status IN ({{statuses}});

-- name: purge_batch
DELETE FROM aqueue_jobs
WHERE finished_at < {{NOW}} - INTERVAL %s MICROSECOND AND status IN ({{statuses}})
LIMIT %s;

-- name: register_worker
INSERT INTO aqueue_workers (name, host, pid, queues, concurrency, version, status, started_at,
                            heartbeat_at, expires_at, node)
VALUES (%s, %s, %s, %s, %s, %s, 'running', {{NOW}}, {{NOW}},
        {{NOW}} + INTERVAL %s MICROSECOND, %s)
ON DUPLICATE KEY UPDATE status = 'running', heartbeat_at = {{NOW}},
    expires_at = VALUES(expires_at), stopped_at = NULL;

-- name: heartbeat_worker
UPDATE aqueue_workers
SET heartbeat_at = {{NOW}}, expires_at = {{NOW}} + INTERVAL %s MICROSECOND, status = 'running'
WHERE name = %s AND status <> 'stopped';

-- name: deregister_worker
UPDATE aqueue_workers SET status = 'stopped', stopped_at = {{NOW}} WHERE name = %s;

-- name: mark_dead_workers
UPDATE aqueue_workers SET status = 'dead' WHERE status = 'running' AND expires_at < {{NOW}};

-- name: prune_workers
DELETE FROM aqueue_workers
WHERE status <> 'running'
  AND COALESCE(stopped_at, expires_at) < {{NOW}} - INTERVAL %s MICROSECOND;

-- name: list_workers
-- A worker whose heartbeat ran out shows as dead at once, before a sweep marks
-- it; stopped and dead ones only for a while (then a sweep deletes them).
SELECT name, host, pid, queues, concurrency, version,
       CASE WHEN status = 'running' AND expires_at < {{NOW}} THEN 'dead' ELSE status END,
       started_at, heartbeat_at, expires_at, stopped_at
FROM aqueue_workers
WHERE (status = 'running' AND expires_at >= {{NOW}})
   OR COALESCE(stopped_at, expires_at) >= {{NOW}} - INTERVAL %s MICROSECOND
ORDER BY status <> 'running', started_at DESC;

-- name: workers_on_node
-- Workers whose pids live where this one's do (same boot, same pid namespace).
SELECT name, pid FROM aqueue_workers WHERE node = %s;

-- name: running_jobs_by_worker
SELECT worker, id FROM aqueue_jobs WHERE status = 'running' ORDER BY worker, id;

-- name: set_paused
INSERT INTO aqueue_queues (name, paused, changed_at) VALUES (%s, %s, {{NOW}})
ON DUPLICATE KEY UPDATE paused = VALUES(paused), changed_at = {{NOW}};

-- name: queue_states
SELECT name, paused FROM aqueue_queues ORDER BY name;

-- name: start_schedule
-- A schedule's first tick; 0 rows when another worker wrote one first.
INSERT INTO aqueue_periodic (name, last_tick, updated_at) VALUES (%s, %s, {{NOW}})
ON DUPLICATE KEY UPDATE name = name;

-- name: advance_tick
-- Compare and set: 0 rows when another worker moved the tick first.
UPDATE aqueue_periodic SET last_tick = %s, updated_at = {{NOW}}
WHERE name = %s AND last_tick = %s;

-- name: set_meta
UPDATE aqueue_jobs SET meta = %s WHERE id = %s;

-- name: last_ticks
SELECT name, last_tick FROM aqueue_periodic;

-- name: purge_task_batch
-- Succeeded jobs of one task past its result_ttl, oldest first (ids grow with time).
DELETE FROM aqueue_jobs
WHERE task = %s AND status = 'succeeded' AND finished_at < {{NOW}} - INTERVAL %s MICROSECOND
ORDER BY id LIMIT %s;

-- name: limited_first_key
-- The first (task, key) pair with a due job in the queues served.
SELECT task, limit_key FROM aqueue_jobs
WHERE limited_status = 'queued' AND scheduled_at <= {{NOW}} {{in_queues}}
ORDER BY limited_status, task, limit_key
LIMIT 1;

-- name: limited_next_key
-- The next pair after (task, key): one probe of aqueue_jobs_limited per pair passed over.
SELECT task, limit_key FROM aqueue_jobs
WHERE limited_status = 'queued' AND (task > %s OR (task = %s AND limit_key > %s))
  AND scheduled_at <= {{NOW}} {{in_queues}}
ORDER BY limited_status, task, limit_key
LIMIT 1;

-- name: limited_lock
SELECT 1 FROM aqueue_limits WHERE task = %s AND limit_key = %s FOR UPDATE SKIP LOCKED;

-- name: limited_exists
SELECT 1 FROM aqueue_limits WHERE task = %s AND limit_key = %s;

-- name: limited_create
-- The row a key's claims lock, made the first time. Made here, or made by a
-- worker that got there first (this waits for it): either way it is locked now.
INSERT INTO aqueue_limits (task, limit_key) VALUES (%s, %s)
ON DUPLICATE KEY UPDATE limit_key = aqueue_limits.limit_key;

-- name: limited_prune
DELETE FROM aqueue_limit_starts
WHERE task = %s AND limit_key = %s AND started_at <= {{NOW}} - INTERVAL %s MICROSECOND;

-- name: limited_starts
-- Run after the key's lock was taken: under READ COMMITTED it sees every
-- claim committed before.
SELECT count(*) FROM aqueue_limit_starts
WHERE task = %s AND limit_key = %s AND started_at > {{NOW}} - INTERVAL %s MICROSECOND;

-- name: limited_running
SELECT count(*) FROM aqueue_jobs WHERE limited_status = 'running' AND task = %s AND limit_key = %s;

-- name: limited_select
SELECT id, task, queue, -neg_priority, args, kwargs, attempts + 1, max_attempts, timeout,
       scheduled_at, meta
FROM aqueue_jobs
WHERE limited_status = 'queued' AND task = %s AND limit_key = %s
  AND scheduled_at <= {{NOW}} {{in_queues}}
  AND NOT EXISTS (SELECT 1 FROM aqueue_queues p WHERE p.name = aqueue_jobs.queue AND p.paused)
ORDER BY neg_priority, scheduled_at, id
LIMIT %s
FOR UPDATE SKIP LOCKED;

-- name: limited_record_start
INSERT INTO aqueue_limit_starts (task, limit_key, started_at) VALUES (%s, %s, {{NOW}});

-- name: lock_parents
-- Shared locks: a parent cannot end between reading its status and the
-- child's edges being written (its end then waits, and sees them).
SELECT id, status FROM aqueue_jobs WHERE id IN ({{ids}}) LOCK IN SHARE MODE;

-- name: insert_edge
INSERT INTO aqueue_job_deps (child, parent, run_on_failure) VALUES (%s, %s, %s);

-- name: set_waiting
-- Adds: a new child starts at NULL, and a batch's callback gains its new members.
UPDATE aqueue_jobs SET waiting = COALESCE(waiting, 0) + %s WHERE id = %s AND status = 'queued';

-- name: insert_batch
INSERT INTO aqueue_batches (id, callbacks, anchor, created_at) VALUES (%s, %s, %s, {{NOW}});

-- name: lock_batch
SELECT callbacks, closed_at IS NOT NULL FROM aqueue_batches WHERE id = %s FOR UPDATE;

-- name: batch_state
SELECT callbacks, closed_at FROM aqueue_batches WHERE id = %s;

-- name: close_batch
UPDATE aqueue_batches SET closed_at = {{NOW}} WHERE id = %s;

-- name: insert_tag
INSERT INTO aqueue_job_tags (job_id, tag) VALUES (%s, %s) ON DUPLICATE KEY UPDATE tag = tag;

-- name: tag_counts
SELECT j.status, count(*) FROM aqueue_job_tags t
JOIN aqueue_jobs j ON j.id = t.job_id WHERE t.tag = %s GROUP BY j.status;

-- name: ended_edges
SELECT d.child, d.parent, p.status, d.run_on_failure
FROM aqueue_job_deps d LEFT JOIN aqueue_jobs p ON p.id = d.parent
WHERE d.parent IN ({{ids}}) AND d.released = 0
  AND (p.id IS NULL OR p.status IN ('succeeded', 'failed', 'cancelled'))
FOR UPDATE;

-- name: all_ended_edges
SELECT d.child, d.parent, p.status, d.run_on_failure
FROM aqueue_job_deps d LEFT JOIN aqueue_jobs p ON p.id = d.parent
WHERE d.released = 0
  AND (p.id IS NULL OR p.status IN ('succeeded', 'failed', 'cancelled'))
LIMIT 1000
FOR UPDATE;

-- name: mark_released
UPDATE aqueue_job_deps SET released = 1 WHERE child = %s AND parent = %s;

-- name: count_down
-- scheduled_at first: MySQL assigns left to right, each seeing the last.
UPDATE aqueue_jobs
SET scheduled_at = CASE WHEN waiting - %s <= 0 THEN {{NOW}} ELSE scheduled_at END,
    waiting = GREATEST(waiting - %s, 0)
WHERE id = %s AND status = 'queued' AND waiting > 0;

-- name: cancel_child
UPDATE aqueue_jobs
SET finished_at = {{NOW}}, error = %s, waiting = 0, status = 'cancelled'
WHERE id = %s AND status = 'queued' AND waiting > 0;

-- name: job_parents
SELECT parent, released FROM aqueue_job_deps WHERE child = %s ORDER BY parent;

-- name: job_children
SELECT child FROM aqueue_job_deps WHERE parent = %s ORDER BY child;

-- name: shift_schedules
-- aqueue.testing's clock: time passing, seen by the queue as due times drawing
-- nearer (microseconds). Jobs waiting for parents keep their far-off mark.
UPDATE aqueue_jobs SET scheduled_at = scheduled_at - INTERVAL %s MICROSECOND
WHERE status = 'queued' AND COALESCE(waiting, 0) = 0;

-- name: next_due_in
SELECT TIMESTAMPDIFF(MICROSECOND, {{NOW}}, min(scheduled_at)) / 1e6 FROM aqueue_jobs
WHERE status = 'queued' AND COALESCE(waiting, 0) = 0;

-- name: has_due
-- The idle worker's probe: one autocommit read, no lock. Is a job due that a
-- claim would take (in an unpaused queue), or a limited one the limited claim
-- would look at? Both walk the claim indexes as the claims do.
SELECT EXISTS (SELECT 1 FROM aqueue_jobs
               WHERE claim_status = 'queued' AND scheduled_at <= {{NOW}} {{in_queues}}
                 AND NOT EXISTS (SELECT 1 FROM aqueue_queues p
                                 WHERE p.name = aqueue_jobs.queue AND p.paused))
    OR EXISTS (SELECT 1 FROM aqueue_jobs
               WHERE limited_status = 'queued' AND scheduled_at <= {{NOW}} {{in_queues}});

-- name: prune_sessions
DELETE FROM aqueue_sessions WHERE expires_at <= {{NOW}};

-- name: start_session
INSERT INTO aqueue_sessions (`key`, created_at, expires_at)
VALUES (%s, {{NOW}}, {{NOW}} + INTERVAL %s MICROSECOND);

-- name: session_alive
SELECT 1 FROM aqueue_sessions WHERE `key` = %s AND expires_at > {{NOW}};

-- name: end_session
DELETE FROM aqueue_sessions WHERE `key` = %s;

-- name: cancel_requests
-- Which of a worker's running jobs have a cancel request: read by a worker
-- that no notification reaches (aqueue/cancel_watch.py).
SELECT id FROM aqueue_jobs
WHERE id IN ({{ids}}) AND status = 'running' AND worker = %s AND cancel_requested;

-- name: leader_row
-- The duty's row, made if missing (expired at once: anyone may take it),
-- then locked for the election that reads it.
INSERT INTO aqueue_leaders (duty, holder, term, expires_at)
VALUES (%s, '', 0, '1970-01-01')
ON DUPLICATE KEY UPDATE duty = duty;

-- name: lock_leader
SELECT holder, term, expires_at <= {{NOW}} FROM aqueue_leaders WHERE duty = %s FOR UPDATE;

-- name: set_leader
UPDATE aqueue_leaders SET holder = %s, term = %s, expires_at = {{NOW}} + INTERVAL %s MICROSECOND
WHERE duty = %s;

-- name: resign
-- Lapsed at once, not deleted: the next holder's term follows this one's.
UPDATE aqueue_leaders SET expires_at = '1970-01-01' WHERE duty = %s AND holder = %s;

-- name: save_output
-- One already stored (by its id) stays, and one whose job is gone (deleted
-- while the write was on its way) is dropped. Not INSERT IGNORE: that would
-- also hide errors, and aiomysql turns its warnings into Python warnings.
INSERT INTO aqueue_job_output (job_id, id, attempt, output, cut, created_at)
SELECT j.id, %s, %s, %s, %s, {{NOW}} FROM aqueue_jobs j WHERE j.id = %s
ON DUPLICATE KEY UPDATE id = aqueue_job_output.id;

-- name: job_outputs
SELECT id, attempt, output, cut, created_at FROM aqueue_job_output
WHERE job_id = %s ORDER BY created_at, attempt;

-- name: job_step
SELECT result FROM aqueue_job_steps WHERE job_id = %s AND name = %s;

-- name: store_step
-- Fenced: only while the attempt holds the job. One stored already stays.
INSERT INTO aqueue_job_steps (job_id, name, attempt, result, created_at)
SELECT id, %(name)s, %(attempt)s, %(result)s, {{NOW}} FROM aqueue_jobs
WHERE id = %(job_id)s AND attempts = %(attempt)s AND status = 'running'
  AND worker = %(worker)s
ON DUPLICATE KEY UPDATE name = aqueue_job_steps.name;

-- name: job_steps
SELECT name, attempt, result, created_at FROM aqueue_job_steps
WHERE job_id = %s ORDER BY created_at, name;

-- name: send_signal
-- Only to a job not finished yet; the first signal of a name stays.
INSERT INTO aqueue_job_signals (job_id, name, payload, created_at)
SELECT id, %(name)s, %(payload)s, {{NOW}} FROM aqueue_jobs
WHERE id = %(job_id)s AND status IN ('queued', 'running')
ON DUPLICATE KEY UPDATE name = aqueue_job_signals.name;

-- name: wake_waiter
-- A job parked waiting for this signal (its wait step stored) is due now.
UPDATE aqueue_jobs SET scheduled_at = {{NOW}}
WHERE id = %(job_id)s AND status = 'queued' AND scheduled_at > {{NOW}}
  AND EXISTS (SELECT 1 FROM aqueue_job_steps WHERE job_id = %(job_id)s AND name = %(wait)s);

-- name: job_signal
SELECT payload FROM aqueue_job_signals WHERE job_id = %s AND name = %s;

-- name: job_signals
SELECT name, payload, created_at FROM aqueue_job_signals
WHERE job_id = %s ORDER BY created_at, name;

-- name: ensure_key
-- A row for the key, so that producers of it have one to queue up on.
-- (Not INSERT IGNORE: its duplicate-key warning would reach the application.)
INSERT INTO aqueue_unique_keys (unique_key, created_at) VALUES (%s, {{NOW}})
ON DUPLICATE KEY UPDATE unique_key = unique_key;

-- name: lock_key
SELECT job_id, TIMESTAMPDIFF(MICROSECOND, created_at, {{NOW}}) / 1000000.0
FROM aqueue_unique_keys WHERE unique_key = %s FOR UPDATE;

-- name: record_key
UPDATE aqueue_unique_keys SET job_id = %s, created_at = {{NOW}} WHERE unique_key = %s;

-- name: replace_job
-- A debounce: the queued holder of a key takes the new arguments and due time.
UPDATE aqueue_jobs
SET args = %s, kwargs = %s, neg_priority = %s,
    scheduled_at = COALESCE(%s, {{NOW}} + INTERVAL %s MICROSECOND), meta = %s
WHERE id = %s AND status = 'queued' AND COALESCE(waiting, 0) = 0;

-- name: add_flow
-- Rows come sorted by (minute, queue): workers adding to the same rows lock
-- them in one order.
INSERT INTO aqueue_flow (minute, queue, succeeded, failed, retried)
VALUES (%s, %s, %s, %s, %s)
ON DUPLICATE KEY UPDATE
    succeeded = succeeded + VALUES(succeeded),
    failed = failed + VALUES(failed),
    retried = retried + VALUES(retried);

-- name: set_depths
INSERT INTO aqueue_flow (minute, queue, depth) VALUES (%s, %s, %s)
ON DUPLICATE KEY UPDATE depth = VALUES(depth);

-- name: prune_flow
DELETE FROM aqueue_flow WHERE minute < %s;

-- name: flow_of_queue
SELECT minute, queue, succeeded, failed, retried, depth FROM aqueue_flow
WHERE minute >= %s AND queue = %s
ORDER BY minute;

-- name: flow_of_all
SELECT minute, '*', sum(succeeded), sum(failed), sum(retried), sum(depth) FROM aqueue_flow
WHERE minute >= %s
GROUP BY minute
ORDER BY minute;

-- name: job_names
-- Every task (or queue) name jobs have: a loose scan of the index of task (or
-- queue) names, one probe per name, not a row per job.
SELECT DISTINCT {{column}} FROM aqueue_jobs ORDER BY {{column}};
