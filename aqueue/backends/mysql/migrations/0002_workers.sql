-- The workers registry: each worker registers, heartbeats and deregisters.
-- Leases stay the source of truth for jobs; this table is for operators (and
-- health checks): who runs, where, and what.
CREATE TABLE aqueue_workers (
    name VARCHAR(255) NOT NULL,
    host VARCHAR(255) NOT NULL,
    pid INT NOT NULL,
    queues LONGTEXT,
    concurrency INT NOT NULL,
    version VARCHAR(64) NOT NULL,
    status VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    started_at DATETIME(6) NOT NULL,
    heartbeat_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    stopped_at DATETIME(6),
    PRIMARY KEY (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
