-- The flow of jobs for the dashboard's charts (aqueue/flow.py): per minute
-- (Unix seconds at its start) and queue, the attempts that ended succeeded,
-- failed or retried, added up by each worker every few seconds, and the
-- queue's depth, sampled once a minute by one worker. Kept two days.
CREATE TABLE aqueue_flow (
    minute bigint NOT NULL,
    queue text NOT NULL,
    succeeded bigint NOT NULL DEFAULT 0,
    failed bigint NOT NULL DEFAULT 0,
    retried bigint NOT NULL DEFAULT 0,
    depth bigint,
    PRIMARY KEY (minute, queue)
);
