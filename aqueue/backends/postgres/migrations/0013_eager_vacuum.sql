-- A queue table churns: each job is inserted, updated when claimed and again
-- when it ends, and deleted by retention: three dead row versions per job.
-- PostgreSQL's defaults vacuum a table once 20% of it is dead, throttled; at
-- thousands of jobs a second the jobs table and its claim index then grow
-- without end (benchmarks/scale.py, W8). Vacuum aqueue_jobs once 1% is dead,
-- unthrottled, and leave room on each page for the claim and completion
-- updates (what they can keep on the page, HOT, needs no index entry).
-- Only where autovacuum is on: the server's switch stays the server's.
ALTER TABLE aqueue_jobs SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_delay = 0,
    fillfactor = 80
);
