-- Named queries for the SQLite backend. {{NOW}} is filled at load time with
-- (julianday('now') - 2440587.5) * 86400.0: unixepoch('subsec') needs 3.42.

-- name: insert_job
INSERT INTO aqueue_jobs (id, task, queue, status, priority, args, kwargs, max_attempts,
                         timeout, unique_key, created_at, scheduled_at, meta, limit_key)
VALUES (:id, :task, :queue, 'queued', :priority, :args, :kwargs, :max_attempts,
        :timeout, :unique_key, {{NOW}}, COALESCE(:run_at, {{NOW}} + :delay), :meta, :limit_key)
ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND status IN ('queued', 'running')
DO NOTHING;

-- name: key_holders
-- The active jobs holding these keys, and those of these ids that exist.
SELECT unique_key, id FROM aqueue_jobs
WHERE (unique_key IN (SELECT value FROM json_each(:keys)) AND status IN ('queued', 'running'))
   OR id IN (SELECT value FROM json_each(:ids));

-- name: claim_jobs
UPDATE aqueue_jobs
SET status = 'running', attempts = attempts + 1, worker = :worker, started_at = {{NOW}},
    lease_expires_at = {{NOW}} + :lease, cancel_requested = 0
-- By rowid: the claim index holds it, so each picked row is found without a
-- second descent through the primary-key index (a million finished rows deep).
WHERE rowid IN (
    SELECT rowid FROM aqueue_jobs
    WHERE status = 'queued' AND scheduled_at <= {{NOW}}
      AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
      AND limit_key IS NULL
      AND NOT EXISTS (SELECT 1 FROM aqueue_queues p WHERE p.name = aqueue_jobs.queue
                      AND p.paused)
    ORDER BY priority DESC, scheduled_at, id
    LIMIT :limit)
RETURNING id, task, queue, priority, args, kwargs, attempts, max_attempts, timeout,
          scheduled_at, meta;

-- name: complete_job
-- A retry of a job whose cancel was requested ends it cancelled. A snooze
-- (:snoozed, with status queued) gives the attempt back and counts itself in
-- meta.snoozes; result, error and history are left as they were.
UPDATE aqueue_jobs
SET status = CASE WHEN :status = 'queued' AND cancel_requested THEN 'cancelled'
                  ELSE :status END,
    result = CASE WHEN :snoozed THEN result ELSE :result END,
    error = CASE WHEN :snoozed THEN error ELSE :error END,
    lease_expires_at = NULL, cancel_requested = 0,
    history = CASE WHEN :status = 'queued' AND NOT :snoozed AND NOT cancel_requested
                   THEN json_insert(COALESCE(history, '[]'), '$[#]', json_object(
                       'attempt', attempts, 'started_at', printf('%.6f', started_at),
                       'ended_at', printf('%.6f', {{NOW}}),
                       'outcome', 'retried', 'error', json_extract(:error, '$.type'),
                       'message', substr(json_extract(:error, '$.message'), 1, 500)))
                   ELSE history END,
    attempts = CASE WHEN :snoozed AND NOT cancel_requested THEN attempts - 1 ELSE attempts END,
    meta = CASE WHEN :snoozed AND NOT cancel_requested
                THEN json_set(COALESCE(meta, '{}'), '$.snoozes',
                              COALESCE(json_extract(meta, '$.snoozes'), 0) + 1)
                ELSE meta END,
    finished_at = CASE WHEN :status = 'queued' AND NOT cancel_requested THEN NULL
                       ELSE {{NOW}} END,
    scheduled_at = CASE WHEN :status = 'queued' AND NOT cancel_requested
                        THEN {{NOW}} + :retry_delay ELSE scheduled_at END
WHERE id = :id AND attempts = :attempts AND status = 'running' AND worker = :worker;

-- name: renew_leases
UPDATE aqueue_jobs SET lease_expires_at = {{NOW}} + :lease
WHERE status = 'running' AND worker = :worker
  AND id IN (SELECT value FROM json_each(:ids))
RETURNING id, attempts, cancel_requested;

-- name: rescue_expired_leases
-- Jobs whose lease expired, and those of the workers in :gone (known gone).
-- (Times in history are text: json_object() would round a REAL to 15 digits.)
-- A job whose cancel was requested ends cancelled; one out of attempts, failed;
-- one queued again keeps the attempt in its history.
UPDATE aqueue_jobs
SET status = CASE WHEN cancel_requested THEN 'cancelled'
                  WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
    finished_at = CASE WHEN cancel_requested OR attempts >= max_attempts THEN {{NOW}}
                       ELSE NULL END,
    error = json_object(
        'type', iif(lease_expires_at < {{NOW}}, 'LeaseExpired', 'WorkerGone'),
        'message', iif(lease_expires_at < {{NOW}}, :message, :gone_message)
                   || ' (worker ' || COALESCE(worker, '?') || ')',
        'traceback', NULL),
    history = CASE WHEN cancel_requested OR attempts >= max_attempts THEN history
                   ELSE json_insert(COALESCE(history, '[]'), '$[#]', json_object(
                       'attempt', attempts, 'started_at', printf('%.6f', started_at),
                       'ended_at', printf('%.6f', {{NOW}}),
                       'outcome', 'rescued',
                       'error', iif(lease_expires_at < {{NOW}}, 'LeaseExpired', 'WorkerGone'),
                       'message', 'worker ' || COALESCE(worker, '?'))) END,
    lease_expires_at = NULL, cancel_requested = 0
WHERE status = 'running'
  AND (lease_expires_at < {{NOW}} OR worker IN (SELECT value FROM json_each(:gone)));

-- name: hand_back
-- The attempt is given back uncounted, unless a cancel was requested: then the
-- job ends cancelled.
UPDATE aqueue_jobs
SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END,
    attempts = CASE WHEN cancel_requested THEN attempts ELSE attempts - 1 END,
    finished_at = CASE WHEN cancel_requested THEN {{NOW}} ELSE NULL END,
    lease_expires_at = NULL, cancel_requested = 0
WHERE id = :id AND attempts = :attempts AND status = 'running' AND worker = :worker;

-- name: set_progress
UPDATE aqueue_jobs SET progress = :progress
WHERE id = :id AND attempts = :attempts AND status = 'running' AND worker = :worker;

-- name: get_job
SELECT {{JOB_COLUMNS}} FROM aqueue_jobs WHERE id = :id;

-- name: get_jobs
SELECT {{JOB_COLUMNS}} FROM aqueue_jobs WHERE id IN (SELECT value FROM json_each(:ids));

-- name: cancel_job
UPDATE aqueue_jobs
SET status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
    finished_at = CASE WHEN status = 'queued' THEN {{NOW}} ELSE finished_at END,
    cancel_requested = CASE WHEN status = 'running' THEN 1 ELSE 0 END
WHERE id = :id AND status IN ('queued', 'running');

-- name: job_status
SELECT status FROM aqueue_jobs WHERE id = :id;

-- name: retry_job
UPDATE aqueue_jobs
SET status = 'queued', attempts = 0, scheduled_at = {{NOW}}, started_at = NULL,
    finished_at = NULL, result = NULL, cancel_requested = 0, lease_expires_at = NULL,
    history = iif(started_at IS NULL, history, json_insert(COALESCE(history, '[]'), '$[#]',
        json_object('attempt', attempts, 'started_at', printf('%.6f', started_at),
                    'ended_at', printf('%.6f', finished_at),
                    'outcome', 'retried by hand', 'error', json_extract(error, '$.type'),
                    'message', substr(json_extract(error, '$.message'), 1, 500))))
WHERE id = :id AND status IN ('failed', 'cancelled');

-- name: reschedule_job
-- A queued job (not one waiting for parents) made due at :run_at (NULL: now)
-- when :move, and given :priority unless NULL (the dashboard's actions).
UPDATE aqueue_jobs
SET scheduled_at = iif(:move, COALESCE(:run_at, {{NOW}}), scheduled_at),
    priority = COALESCE(:priority, priority)
WHERE id = :id AND status = 'queued' AND COALESCE(waiting, 0) = 0;

-- name: queue_counts
-- Each part is read from indexes alone: queued from the claim index and the
-- limited jobs' index, running from the running index, failed from the
-- problems index. The finished history is never read.
SELECT queue, 'queued', count(*), total(scheduled_at <= {{NOW}}), min(scheduled_at), {{NOW}}
FROM (SELECT queue, scheduled_at FROM aqueue_jobs WHERE status = 'queued' AND limit_key IS NULL
      UNION ALL
      SELECT queue, scheduled_at FROM aqueue_jobs
      WHERE status = 'queued' AND limit_key IS NOT NULL)
GROUP BY queue
UNION ALL
SELECT queue, 'running', count(*), 0, NULL, {{NOW}}
FROM aqueue_jobs WHERE status = 'running' GROUP BY queue
UNION ALL
SELECT queue, 'failed', count(*), 0, NULL, {{NOW}}
FROM aqueue_jobs WHERE status IN ('failed', 'cancelled') AND status = 'failed' GROUP BY queue;

-- name: recent_finished
-- Read from aqueue_jobs_finished alone: only the last hour's entries.
-- (Left alone, SQLite walks a whole index in queue order to skip the sort.)
SELECT queue, status, count(*), total(finished_at >= {{NOW}} - :short)
FROM aqueue_jobs INDEXED BY aqueue_jobs_finished
WHERE finished_at IS NOT NULL AND finished_at >= {{NOW}} - :long
GROUP BY queue, status;

-- name: delete_job
-- A running job is not deleted: its worker holds it (cancel it instead).
DELETE FROM aqueue_jobs WHERE id = :id AND status <> 'running' RETURNING status;

-- name: import_jobs
-- Whole rows as exported; one that exists (by id, or an active unique key)
-- is left alone.
INSERT OR IGNORE INTO aqueue_jobs (id, task, queue, status, priority, attempts, max_attempts, timeout,
                         args, kwargs, result, error, progress, history, meta, unique_key,
                         worker, cancel_requested, created_at, scheduled_at, started_at,
                         finished_at)
VALUES (:id, :task, :queue, :status, :priority, :attempts, :max_attempts, :timeout, :args,
        :kwargs, :result, :error, :progress, :history, :meta, :unique_key, :worker,
        :cancel_requested, :created_at, :scheduled_at, :started_at, :finished_at);

-- name: expired_leases
-- Running jobs whose lease ran out over :grace seconds ago: nobody rescues them.
SELECT count(*) FROM aqueue_jobs
WHERE status = 'running' AND lease_expires_at < {{NOW}} - :grace;

-- name: stats
SELECT queue, status, count(*) FROM aqueue_jobs GROUP BY queue, status;

-- name: count_purgeable
SELECT count(*) FROM aqueue_jobs
WHERE finished_at IS NOT NULL AND finished_at < {{NOW}} - :age
  AND status IN (SELECT value FROM json_each(:statuses));

-- name: purge_batch
DELETE FROM aqueue_jobs WHERE id IN (
    SELECT id FROM aqueue_jobs
    WHERE finished_at IS NOT NULL AND finished_at < {{NOW}} - :age
      AND status IN (SELECT value FROM json_each(:statuses))
    LIMIT :batch);

-- name: register_worker
INSERT INTO aqueue_workers (name, host, pid, queues, concurrency, version, status, started_at,
                            heartbeat_at, expires_at, node)
VALUES (:name, :host, :pid, :queues, :concurrency, :version, 'running', {{NOW}}, {{NOW}},
        {{NOW}} + :ttl, :node)
ON CONFLICT (name) DO UPDATE
SET status = 'running', heartbeat_at = {{NOW}}, expires_at = excluded.expires_at,
    stopped_at = NULL;

-- name: heartbeat_worker
UPDATE aqueue_workers
SET heartbeat_at = {{NOW}}, expires_at = {{NOW}} + :ttl, status = 'running'
WHERE name = :name AND status <> 'stopped';

-- name: deregister_worker
UPDATE aqueue_workers SET status = 'stopped', stopped_at = {{NOW}} WHERE name = :name;

-- name: mark_dead_workers
UPDATE aqueue_workers SET status = 'dead' WHERE status = 'running' AND expires_at < {{NOW}};

-- name: prune_workers
DELETE FROM aqueue_workers
WHERE status <> 'running' AND COALESCE(stopped_at, expires_at) < {{NOW}} - :age;

-- name: list_workers
-- A worker whose heartbeat ran out shows as dead at once, before a sweep marks
-- it; stopped and dead ones only for a while (then a sweep deletes them).
SELECT name, host, pid, queues, concurrency, version,
       CASE WHEN status = 'running' AND expires_at < {{NOW}} THEN 'dead' ELSE status END,
       started_at, heartbeat_at, expires_at, stopped_at
FROM aqueue_workers
WHERE (status = 'running' AND expires_at >= {{NOW}})
   OR COALESCE(stopped_at, expires_at) >= {{NOW}} - :age
ORDER BY status <> 'running', started_at DESC;

-- name: workers_on_node
-- Workers whose pids live where this one's do (same boot, same pid namespace).
SELECT name, pid FROM aqueue_workers WHERE node = :node;

-- name: running_jobs_by_worker
SELECT worker, id FROM aqueue_jobs WHERE status = 'running' ORDER BY worker, id;

-- name: set_paused
INSERT INTO aqueue_queues (name, paused, changed_at) VALUES (:name, :paused, {{NOW}})
ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, changed_at = {{NOW}};

-- name: queue_states
SELECT name, paused FROM aqueue_queues ORDER BY name;

-- name: start_schedule
-- A schedule's first tick; no row back when another worker wrote one first.
INSERT INTO aqueue_periodic (name, last_tick, updated_at) VALUES (:name, :tick, {{NOW}})
ON CONFLICT (name) DO NOTHING
RETURNING name;

-- name: advance_tick
-- Compare and set: no row back when another worker moved the tick first.
UPDATE aqueue_periodic SET last_tick = :tick, updated_at = {{NOW}}
WHERE name = :name AND last_tick = :expected
RETURNING name;

-- name: set_meta
UPDATE aqueue_jobs SET meta = :meta WHERE id = :id;

-- name: last_ticks
SELECT name, last_tick FROM aqueue_periodic;

-- name: purge_task_batch
-- Succeeded jobs of one task past its result_ttl, oldest first (ids grow with time).
DELETE FROM aqueue_jobs WHERE id IN (
    SELECT id FROM aqueue_jobs
    WHERE task = :task AND finished_at IS NOT NULL AND status = 'succeeded'
      AND finished_at < {{NOW}} - :age
    ORDER BY id LIMIT :batch);

-- name: limited_first_key
-- The first (task, key) pair with a due job in the queues served.
SELECT task, limit_key FROM aqueue_jobs
WHERE status = 'queued' AND limit_key IS NOT NULL
  AND scheduled_at <= {{NOW}}
  AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
ORDER BY task, limit_key
LIMIT 1;

-- name: limited_next_key
-- The next pair after (:task, :key): the row comparison is an index range, so
-- the pair passed over costs one probe, not a walk through its jobs.
SELECT task, limit_key FROM aqueue_jobs
WHERE status = 'queued' AND limit_key IS NOT NULL AND (task, limit_key) > (:task, :key)
  AND scheduled_at <= {{NOW}}
  AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
ORDER BY task, limit_key
LIMIT 1;

-- name: limited_prune
DELETE FROM aqueue_limit_starts
WHERE task = :task AND limit_key = :key AND started_at <= {{NOW}} - :period;

-- name: limited_counts
-- The claim's transaction holds SQLite's one write lock: nothing changes
-- between these counts and the claim.
SELECT (SELECT count(*) FROM aqueue_jobs
        WHERE status = 'running' AND limit_key IS NOT NULL AND task = :task
          AND limit_key = :key),
       (SELECT count(*) FROM aqueue_limit_starts
        WHERE :period IS NOT NULL AND task = :task AND limit_key = :key
          AND started_at > {{NOW}} - :period);

-- name: limited_claim
UPDATE aqueue_jobs
SET status = 'running', attempts = attempts + 1, worker = :worker, started_at = {{NOW}},
    lease_expires_at = {{NOW}} + :lease, cancel_requested = 0
WHERE rowid IN (
    SELECT rowid FROM aqueue_jobs
    WHERE status = 'queued' AND limit_key IS NOT NULL AND task = :task AND limit_key = :key
      AND scheduled_at <= {{NOW}}
      AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
      AND NOT EXISTS (SELECT 1 FROM aqueue_queues p WHERE p.name = aqueue_jobs.queue
                      AND p.paused)
    ORDER BY priority DESC, scheduled_at, id
    LIMIT :limit)
RETURNING id, task, queue, priority, args, kwargs, attempts, max_attempts, timeout,
          scheduled_at, meta;

-- name: limited_record_start
INSERT INTO aqueue_limit_starts (task, limit_key, started_at) VALUES (:task, :key, {{NOW}});

-- name: parent_statuses
SELECT id, status FROM aqueue_jobs WHERE id IN (SELECT value FROM json_each(:ids));

-- name: insert_edge
INSERT INTO aqueue_job_deps (child, parent, run_on_failure) VALUES (:child, :parent, :run);

-- name: set_waiting
-- Adds: a new child starts at NULL, and a batch's callback gains its new members.
UPDATE aqueue_jobs SET waiting = COALESCE(waiting, 0) + :n WHERE id = :id AND status = 'queued';

-- name: insert_batch
INSERT INTO aqueue_batches (id, callbacks, anchor, created_at)
VALUES (:id, :callbacks, :anchor, {{NOW}});

-- name: lock_batch
-- SQLite's one writer is the lock.
SELECT callbacks, closed_at IS NOT NULL FROM aqueue_batches WHERE id = :id;

-- name: batch_state
SELECT callbacks, closed_at FROM aqueue_batches WHERE id = :id;

-- name: close_batch
UPDATE aqueue_batches SET closed_at = {{NOW}} WHERE id = :id;

-- name: insert_tag
INSERT OR IGNORE INTO aqueue_job_tags (job_id, tag) VALUES (?, ?);

-- name: tag_counts
SELECT j.status, count(*) FROM aqueue_job_tags t
JOIN aqueue_jobs j ON j.id = t.job_id WHERE t.tag = :tag GROUP BY j.status;

-- name: ended_edges
-- Edges not yet applied whose parent ended or is gone; :ids NULL: any parent.
SELECT d.child, d.parent, p.status, d.run_on_failure
FROM aqueue_job_deps d LEFT JOIN aqueue_jobs p ON p.id = d.parent
WHERE NOT d.released
  AND (:ids IS NULL OR d.parent IN (SELECT value FROM json_each(:ids)))
  AND (p.id IS NULL OR p.status IN ('succeeded', 'failed', 'cancelled'))
LIMIT 1000;

-- name: mark_released
UPDATE aqueue_job_deps SET released = 1 WHERE child = :child AND parent = :parent;

-- name: count_down
UPDATE aqueue_jobs
SET scheduled_at = CASE WHEN waiting - :n <= 0 THEN {{NOW}} ELSE scheduled_at END,
    waiting = max(waiting - :n, 0)
WHERE id = :id AND status = 'queued' AND waiting > 0;

-- name: cancel_child
UPDATE aqueue_jobs
SET status = 'cancelled', finished_at = {{NOW}}, error = :error, waiting = 0
WHERE id = :id AND status = 'queued' AND waiting > 0;

-- name: job_parents
SELECT parent, released FROM aqueue_job_deps WHERE child = :id ORDER BY parent;

-- name: job_children
SELECT child FROM aqueue_job_deps WHERE parent = :id ORDER BY child;

-- name: shift_schedules
-- aqueue.testing's clock: time passing, seen by the queue as due times drawing
-- nearer. Jobs waiting for parents keep their far-off mark.
UPDATE aqueue_jobs SET scheduled_at = scheduled_at - :seconds
WHERE status = 'queued' AND COALESCE(waiting, 0) = 0;

-- name: next_due_in
SELECT min(scheduled_at) - {{NOW}} FROM aqueue_jobs
WHERE status = 'queued' AND COALESCE(waiting, 0) = 0;

-- name: has_due
-- The idle worker's probe where no wake-up socket can be had: one read, no lock.
SELECT EXISTS (SELECT 1 FROM aqueue_jobs
               WHERE status = 'queued' AND scheduled_at <= {{NOW}} AND limit_key IS NULL
                 AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
                 AND NOT EXISTS (SELECT 1 FROM aqueue_queues p WHERE p.name = aqueue_jobs.queue
                                 AND p.paused))
    OR EXISTS (SELECT 1 FROM aqueue_jobs
               WHERE status = 'queued' AND limit_key IS NOT NULL AND scheduled_at <= {{NOW}}
                 AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues))));

-- name: prune_sessions
DELETE FROM aqueue_sessions WHERE expires_at <= {{NOW}};

-- name: start_session
INSERT INTO aqueue_sessions (key, created_at, expires_at) VALUES (:key, {{NOW}}, {{NOW}} + :ttl);

-- name: session_alive
SELECT 1 FROM aqueue_sessions WHERE key = :key AND expires_at > {{NOW}};

-- name: end_session
DELETE FROM aqueue_sessions WHERE key = :key;

-- name: cancel_requests
-- Which of a worker's running jobs have a cancel request: read by a worker
-- that no notification reaches (aqueue/cancel_watch.py).
SELECT id FROM aqueue_jobs
WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'running' AND worker = :worker
  AND cancel_requested;

-- name: read_leader
SELECT holder, term, expires_at <= {{NOW}} FROM aqueue_leaders WHERE duty = :duty;

-- name: set_leader
INSERT INTO aqueue_leaders (duty, holder, term, expires_at)
VALUES (:duty, :holder, :term, {{NOW}} + :ttl)
ON CONFLICT (duty) DO UPDATE
SET holder = excluded.holder, term = excluded.term, expires_at = excluded.expires_at;

-- name: resign
-- Lapsed at once, not deleted: the next holder's term follows this one's.
UPDATE aqueue_leaders SET expires_at = 0 WHERE duty = :duty AND holder = :holder;

-- name: save_output
-- An output whose job is gone (deleted while the write was on its way) is dropped.
INSERT OR IGNORE INTO aqueue_job_output (job_id, id, attempt, output, cut, created_at)
SELECT :job_id, :id, :attempt, :output, :cut, {{NOW}}
WHERE EXISTS (SELECT 1 FROM aqueue_jobs WHERE id = :job_id);

-- name: job_outputs
SELECT id, attempt, output, cut, created_at FROM aqueue_job_output
WHERE job_id = :job_id ORDER BY created_at, rowid;

-- name: job_step
SELECT result FROM aqueue_job_steps WHERE job_id = :job_id AND name = :name;

-- name: store_step
-- Fenced: only while the attempt holds the job. One stored already stays.
INSERT OR IGNORE INTO aqueue_job_steps (job_id, name, attempt, result, created_at)
SELECT id, :name, :attempt, :result, {{NOW}} FROM aqueue_jobs
WHERE id = :job_id AND attempts = :attempt AND status = 'running' AND worker = :worker;

-- name: job_steps
SELECT name, attempt, result, created_at FROM aqueue_job_steps
WHERE job_id = :job_id ORDER BY created_at, rowid;

-- name: send_signal
-- Only to a job not finished yet; the first signal of a name stays.
INSERT OR IGNORE INTO aqueue_job_signals (job_id, name, payload, created_at)
SELECT id, :name, :payload, {{NOW}} FROM aqueue_jobs
WHERE id = :job_id AND status IN ('queued', 'running');

-- name: wake_waiter
-- A job parked waiting for this signal (its wait step stored) is due now.
UPDATE aqueue_jobs SET scheduled_at = {{NOW}}
WHERE id = :job_id AND status = 'queued' AND scheduled_at > {{NOW}}
  AND EXISTS (SELECT 1 FROM aqueue_job_steps WHERE job_id = :job_id AND name = :wait);

-- name: job_signal
SELECT payload FROM aqueue_job_signals WHERE job_id = :job_id AND name = :name;

-- name: job_signals
SELECT name, payload, created_at FROM aqueue_job_signals
WHERE job_id = :job_id ORDER BY created_at, rowid;

-- name: ensure_key
-- A row for the key (SQLite's one writer is the lock).
INSERT OR IGNORE INTO aqueue_unique_keys (unique_key, created_at) VALUES (:key, {{NOW}});

-- name: lock_key
SELECT job_id, {{NOW}} - created_at FROM aqueue_unique_keys WHERE unique_key = :key;

-- name: record_key
UPDATE aqueue_unique_keys SET job_id = :id, created_at = {{NOW}} WHERE unique_key = :key;

-- name: replace_job
-- A debounce: the queued holder of a key takes the new arguments and due time.
UPDATE aqueue_jobs
SET args = :args, kwargs = :kwargs, priority = :priority,
    scheduled_at = COALESCE(:run_at, {{NOW}} + :delay), meta = :meta
WHERE id = :id AND status = 'queued' AND COALESCE(waiting, 0) = 0;

-- name: add_flow
INSERT INTO aqueue_flow (minute, queue, succeeded, failed, retried)
VALUES (:minute, :queue, :succeeded, :failed, :retried)
ON CONFLICT (minute, queue) DO UPDATE
SET succeeded = succeeded + excluded.succeeded,
    failed = failed + excluded.failed,
    retried = retried + excluded.retried;

-- name: set_depths
INSERT INTO aqueue_flow (minute, queue, depth) VALUES (:minute, :queue, :depth)
ON CONFLICT (minute, queue) DO UPDATE SET depth = excluded.depth;

-- name: prune_flow
DELETE FROM aqueue_flow WHERE minute < :before;

-- name: flow_of_queue
SELECT minute, queue, succeeded, failed, retried, depth FROM aqueue_flow
WHERE minute >= :since AND queue = :queue
ORDER BY minute;

-- name: flow_of_all
SELECT minute, '*', sum(succeeded), sum(failed), sum(retried), sum(depth) FROM aqueue_flow
WHERE minute >= :since
GROUP BY minute
ORDER BY minute;

-- name: job_names
-- Every task (or queue) name jobs have, without reading a row per job:
-- finished jobs' by a skip scan of their index of task (or queue) names (one
-- probe per name), the others from
-- the indexes of queued and running jobs (predicates verbatim: SQLite uses a
-- partial index only where it finds them).
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
UNION SELECT {{column}} FROM aqueue_jobs INDEXED BY aqueue_jobs_running WHERE status = 'running'
ORDER BY 1;
