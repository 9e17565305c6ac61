-- Payloads as json, not jsonb; a cancel request survives retry, rescue and hand-back.
--
-- jsonb refuses the escape \u0000 in strings ("unsupported Unicode escape
-- sequence"), which JSON allows and the other two databases store: an argument,
-- result, error message or progress holding U+0000 failed to write. The json
-- type keeps the text as given (it still checks that it is JSON) and takes it.
-- aqueue never looks inside these columns in SQL, so nothing is lost; json
-- input is also cheaper than jsonb's conversion (see docs/performance.md).
ALTER TABLE aqueue_jobs
    ALTER COLUMN args TYPE json USING args::json,
    ALTER COLUMN kwargs TYPE json USING kwargs::json,
    ALTER COLUMN result TYPE json USING result::json,
    ALTER COLUMN error TYPE json USING error::json,
    ALTER COLUMN progress TYPE json USING progress::json;

-- The claim also returns each job's due time, so the worker starts the jobs
-- it claimed in the order of the claim (UPDATE ... RETURNING keeps none).
-- aqueue_claim: defined once, in functions.sql (applied by the last migration of each run).

-- Outcomes: a retry of a job whose cancel was requested ends it cancelled.
-- aqueue_complete: defined once, in functions.sql (applied by the last migration of each run).
