-- Pausing a queue: its jobs are not claimed (running ones finish), enqueue
-- still works, and the state survives restarts. The claim itself skips paused
-- queues, so a pause holds from the moment it commits, for every worker.
CREATE TABLE aqueue_queues (
    name VARCHAR(255) NOT NULL,
    paused TINYINT NOT NULL DEFAULT 0,
    changed_at DATETIME(6) NOT NULL,
    PRIMARY KEY (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
