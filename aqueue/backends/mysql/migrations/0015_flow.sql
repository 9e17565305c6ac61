-- The flow of jobs for the dashboard's charts (aqueue/flow.py): per minute
-- (Unix seconds at its start) and queue, the attempts that ended succeeded,
-- failed or retried, added up by each worker every few seconds, and the
-- queue's depth, sampled once a minute by one worker. Kept two days.
CREATE TABLE aqueue_flow (
    minute BIGINT NOT NULL,
    queue VARCHAR(255) NOT NULL,
    succeeded BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    retried BIGINT NOT NULL DEFAULT 0,
    depth BIGINT NULL,
    PRIMARY KEY (minute, queue)
) ENGINE = InnoDB;
