-- aqueue schema for MySQL 8 and MariaDB 10.6+ (InnoDB, utf8mb4, binary
-- collation so names compare exactly as on PostgreSQL and SQLite).
-- Times are DATETIME(6) in UTC, always written with UTC_TIMESTAMP(6).
CREATE TABLE aqueue_jobs (
    id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    task VARCHAR(255) NOT NULL,
    queue VARCHAR(255) NOT NULL,
    status VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    -- The priority negated: MariaDB before 10.8 ignores DESC in index
    -- definitions, and a mixed-direction ORDER BY would sort the whole queue.
    neg_priority SMALLINT NOT NULL DEFAULT 0,
    args LONGTEXT NOT NULL,
    kwargs LONGTEXT NOT NULL,
    result LONGTEXT,
    error LONGTEXT,
    progress LONGTEXT,
    attempts INT NOT NULL DEFAULT 0,
    max_attempts INT NOT NULL,
    timeout DOUBLE,
    unique_key VARCHAR(255),
    -- No partial indexes here: the key is unique only while the job is active.
    active_unique_key VARCHAR(255) GENERATED ALWAYS AS
        (CASE WHEN status IN ('queued', 'running') THEN unique_key END) STORED,
    worker VARCHAR(255),
    cancel_requested TINYINT NOT NULL DEFAULT 0,
    created_at DATETIME(6) NOT NULL,
    scheduled_at DATETIME(6) NOT NULL,
    started_at DATETIME(6),
    finished_at DATETIME(6),
    lease_expires_at DATETIME(6),
    PRIMARY KEY (id),
    KEY aqueue_jobs_claim (status, neg_priority, scheduled_at, id),
    KEY aqueue_jobs_running (status, lease_expires_at),
    UNIQUE KEY aqueue_jobs_unique_key (active_unique_key),
    KEY aqueue_jobs_finished (finished_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
