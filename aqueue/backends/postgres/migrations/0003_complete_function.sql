-- Writing outcomes and renewing leases look rows up by primary key, pinned.
--
-- Both statements name their jobs by id and fence them with
-- "status = 'running' AND worker = ...". With the statistics stale after a
-- burst, that fence looks like it matches almost nothing, so PostgreSQL chose
-- to read every row of the running index (or the whole table) and match ids
-- against the list in a loop. The running index also keeps an entry for every
-- job that ever ran until VACUUM, and a bitmap scan never prunes them: writing
-- 100 outcomes grew from ~3 ms to ~10 ms over a 20,000-job drain, where the
-- lookup by id takes ~0.7 ms. The statements now run inside functions declared
-- SET enable_seqscan = off, and the lease index is keyed on what a lease is, so
-- the fence cannot select it: one primary-key probe per id is the plan left.

DROP INDEX aqueue_jobs_running;

-- Leased rows, for rescuing expired leases. lease_expires_at is set exactly
-- while a job is running (claim sets it; every way out of running clears it).
CREATE INDEX aqueue_jobs_leased ON aqueue_jobs (lease_expires_at)
    WHERE lease_expires_at IS NOT NULL;

-- aqueue_complete: defined once, in functions.sql (applied by the last migration of each run).

-- aqueue_renew: defined once, in functions.sql (applied by the last migration of each run).
