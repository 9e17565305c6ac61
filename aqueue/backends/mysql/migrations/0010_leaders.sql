-- Leadership (aqueue/leader.py): for a duty one worker at a time should do
-- (retention's sweeps, reading queue depths for metrics), the holder and its
-- term, kept while the holder renews before expires_at. A new holder takes
-- the next term. Replaces the turns those duties took on aqueue_periodic rows.
CREATE TABLE aqueue_leaders (
    duty VARCHAR(255) NOT NULL,
    holder VARCHAR(255) NOT NULL,
    term BIGINT NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    PRIMARY KEY (duty)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

DELETE FROM aqueue_periodic WHERE name IN ('aqueue:retention', 'aqueue:metrics');
