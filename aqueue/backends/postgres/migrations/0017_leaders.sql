-- Leadership (aqueue/leader.py): for a duty one worker at a time should do
-- (retention's sweeps, reading queue depths for metrics), the holder and its
-- term, kept while the holder renews before expires_at. A new holder takes
-- the next term. Replaces the turns those duties took on aqueue_periodic rows.
CREATE TABLE aqueue_leaders (
    duty text PRIMARY KEY,
    holder text NOT NULL,
    term bigint NOT NULL,
    expires_at timestamptz NOT NULL
);

DELETE FROM aqueue_periodic WHERE name IN ('aqueue:retention', 'aqueue:metrics');
