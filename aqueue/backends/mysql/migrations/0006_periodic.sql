-- Periodic jobs: each schedule's last enqueued tick. A worker enqueues a
-- tick only by moving last_tick forward, in the transaction that inserts the
-- tick's job: however many workers run the schedule, one wins each tick.
CREATE TABLE aqueue_periodic (
    name VARCHAR(255) NOT NULL,
    last_tick DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- What aqueue itself records about a job (a periodic job's schedule and
-- tick), returned by the claim so that the task's context can read it.
ALTER TABLE aqueue_jobs ADD COLUMN meta LONGTEXT;
