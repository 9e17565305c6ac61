-- The flow of jobs for the dashboard's charts (aqueue/flow.py): per minute
-- (Unix seconds at its start) and queue, the attempts that ended succeeded,
-- failed or retried, added up by each worker every few seconds, and the
-- queue's depth, sampled once a minute by one worker. Kept two days.
CREATE TABLE aqueue_flow (
    minute INTEGER NOT NULL,
    queue TEXT NOT NULL,
    succeeded INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    retried INTEGER NOT NULL DEFAULT 0,
    depth INTEGER,
    PRIMARY KEY (minute, queue)
);
