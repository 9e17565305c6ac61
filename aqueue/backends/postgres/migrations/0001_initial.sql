-- aqueue schema for PostgreSQL 14+.
CREATE TABLE aqueue_jobs (
    id uuid PRIMARY KEY,
    task text NOT NULL,
    queue text NOT NULL,
    status text NOT NULL
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    priority smallint NOT NULL DEFAULT 0,
    args jsonb NOT NULL,
    kwargs jsonb NOT NULL,
    result jsonb,
    error jsonb,
    progress jsonb,
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL,
    timeout double precision,
    unique_key text,
    worker text,
    cancel_requested boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    scheduled_at timestamptz NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    lease_expires_at timestamptz
);

-- The claim walks this partial index in order and stops after LIMIT rows.
-- Finished rows are not in it, so a table of millions of finished jobs
-- costs the claim nothing. Queue filters are applied while walking.
CREATE INDEX aqueue_jobs_claim ON aqueue_jobs (priority DESC, scheduled_at, id)
    WHERE status = 'queued';

-- Lease renewal and rescue only look at running rows.
CREATE INDEX aqueue_jobs_running ON aqueue_jobs (lease_expires_at)
    WHERE status = 'running';

CREATE UNIQUE INDEX aqueue_jobs_unique_key ON aqueue_jobs (unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('queued', 'running');

CREATE INDEX aqueue_jobs_finished ON aqueue_jobs (finished_at)
    WHERE finished_at IS NOT NULL;
