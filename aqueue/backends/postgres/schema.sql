-- aqueue's postgresql schema after migration 0024: written by
-- scripts/dump_schema.py from a database migrated step by step. Do not edit:
-- change the schema with a new migration, then run the script again.
-- Functions: functions.sql.

CREATE TABLE aqueue_batches (
    id uuid NOT NULL,
    callbacks text NOT NULL,
    anchor uuid NOT NULL,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    closed_at timestamp with time zone
);

CREATE TABLE aqueue_flow (
    minute bigint NOT NULL,
    queue text NOT NULL,
    succeeded bigint DEFAULT 0 NOT NULL,
    failed bigint DEFAULT 0 NOT NULL,
    retried bigint DEFAULT 0 NOT NULL,
    depth bigint
);

CREATE TABLE aqueue_job_deps (
    child uuid NOT NULL,
    parent uuid NOT NULL,
    run_on_failure boolean DEFAULT false NOT NULL,
    released boolean DEFAULT false NOT NULL
);

CREATE TABLE aqueue_job_output (
    job_id uuid NOT NULL,
    id uuid NOT NULL,
    attempt integer NOT NULL,
    output text NOT NULL,
    cut bigint DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL
);

CREATE TABLE aqueue_job_signals (
    job_id uuid NOT NULL,
    name text NOT NULL,
    payload text NOT NULL,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL
);

CREATE TABLE aqueue_job_steps (
    job_id uuid NOT NULL,
    name text NOT NULL,
    attempt integer NOT NULL,
    result text NOT NULL,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL
);

CREATE TABLE aqueue_job_tags (
    job_id uuid NOT NULL,
    tag text NOT NULL
);

CREATE TABLE aqueue_jobs (
    id uuid NOT NULL,
    task text NOT NULL,
    queue text NOT NULL,
    status text NOT NULL,
    priority smallint DEFAULT 0 NOT NULL,
    args json NOT NULL,
    kwargs json NOT NULL,
    result json,
    error json,
    progress json,
    attempts integer DEFAULT 0 NOT NULL,
    max_attempts integer NOT NULL,
    timeout double precision,
    unique_key text,
    worker text,
    cancel_requested boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    scheduled_at timestamp with time zone NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    lease_expires_at timestamp with time zone,
    history jsonb,
    meta jsonb,
    limit_key text,
    waiting integer,
    CONSTRAINT aqueue_jobs_status_check CHECK ((status = ANY (ARRAY['queued'::text, 'running'::text, 'succeeded'::text, 'failed'::text, 'cancelled'::text])))
)
WITH (autovacuum_vacuum_scale_factor='0.01', autovacuum_vacuum_threshold='1000', autovacuum_vacuum_insert_scale_factor='0.02', autovacuum_analyze_scale_factor='0.02', autovacuum_vacuum_cost_delay='0', fillfactor='80');

CREATE TABLE aqueue_leaders (
    duty text NOT NULL,
    holder text NOT NULL,
    term bigint NOT NULL,
    expires_at timestamp with time zone NOT NULL
);

CREATE TABLE aqueue_limit_starts (
    task text NOT NULL,
    limit_key text NOT NULL,
    started_at timestamp with time zone NOT NULL
);

CREATE TABLE aqueue_limits (
    task text NOT NULL,
    limit_key text NOT NULL
);

CREATE TABLE aqueue_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE aqueue_offers (
    worker text NOT NULL,
    queues text[],
    lease double precision NOT NULL,
    token double precision NOT NULL,
    offered_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    expires_at timestamp with time zone NOT NULL
);

CREATE TABLE aqueue_periodic (
    name text NOT NULL,
    last_tick timestamp with time zone NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE aqueue_queues (
    name text NOT NULL,
    paused boolean DEFAULT false NOT NULL,
    changed_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE aqueue_sessions (
    key text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL
);

CREATE TABLE aqueue_unique_keys (
    unique_key text NOT NULL,
    job_id uuid,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL
);

CREATE TABLE aqueue_workers (
    name text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    queues json,
    concurrency integer NOT NULL,
    version text NOT NULL,
    status text NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    heartbeat_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    stopped_at timestamp with time zone,
    node text,
    CONSTRAINT aqueue_workers_status_check CHECK ((status = ANY (ARRAY['running'::text, 'stopped'::text, 'dead'::text])))
);

ALTER TABLE ONLY aqueue_batches
    ADD CONSTRAINT aqueue_batches_pkey PRIMARY KEY (id);

ALTER TABLE ONLY aqueue_flow
    ADD CONSTRAINT aqueue_flow_pkey PRIMARY KEY (minute, queue);

ALTER TABLE ONLY aqueue_job_deps
    ADD CONSTRAINT aqueue_job_deps_pkey PRIMARY KEY (child, parent);

ALTER TABLE ONLY aqueue_job_output
    ADD CONSTRAINT aqueue_job_output_pkey PRIMARY KEY (job_id, id);

ALTER TABLE ONLY aqueue_job_signals
    ADD CONSTRAINT aqueue_job_signals_pkey PRIMARY KEY (job_id, name);

ALTER TABLE ONLY aqueue_job_steps
    ADD CONSTRAINT aqueue_job_steps_pkey PRIMARY KEY (job_id, name);

ALTER TABLE ONLY aqueue_job_tags
    ADD CONSTRAINT aqueue_job_tags_pkey PRIMARY KEY (job_id, tag);

ALTER TABLE ONLY aqueue_jobs
    ADD CONSTRAINT aqueue_jobs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY aqueue_leaders
    ADD CONSTRAINT aqueue_leaders_pkey PRIMARY KEY (duty);

ALTER TABLE ONLY aqueue_limits
    ADD CONSTRAINT aqueue_limits_pkey PRIMARY KEY (task, limit_key);

ALTER TABLE ONLY aqueue_migrations
    ADD CONSTRAINT aqueue_migrations_pkey PRIMARY KEY (version);

ALTER TABLE ONLY aqueue_offers
    ADD CONSTRAINT aqueue_offers_pkey PRIMARY KEY (worker);

ALTER TABLE ONLY aqueue_periodic
    ADD CONSTRAINT aqueue_periodic_pkey PRIMARY KEY (name);

ALTER TABLE ONLY aqueue_queues
    ADD CONSTRAINT aqueue_queues_pkey PRIMARY KEY (name);

ALTER TABLE ONLY aqueue_sessions
    ADD CONSTRAINT aqueue_sessions_pkey PRIMARY KEY (key);

ALTER TABLE ONLY aqueue_unique_keys
    ADD CONSTRAINT aqueue_unique_keys_pkey PRIMARY KEY (unique_key);

ALTER TABLE ONLY aqueue_workers
    ADD CONSTRAINT aqueue_workers_pkey PRIMARY KEY (name);

CREATE INDEX aqueue_batches_anchor ON aqueue_batches USING btree (anchor);

CREATE INDEX aqueue_job_deps_parent ON aqueue_job_deps USING btree (parent);

CREATE INDEX aqueue_job_deps_pending ON aqueue_job_deps USING btree (parent) WHERE (NOT released);

CREATE INDEX aqueue_job_tags_tag ON aqueue_job_tags USING btree (tag, job_id);

CREATE INDEX aqueue_jobs_claim ON aqueue_jobs USING btree (priority DESC, scheduled_at, id) INCLUDE (queue, task) WHERE ((status = 'queued'::text) AND (limit_key IS NULL));

CREATE INDEX aqueue_jobs_finished ON aqueue_jobs USING btree (finished_at, queue, status) WHERE (finished_at IS NOT NULL);

CREATE INDEX aqueue_jobs_finished_queue ON aqueue_jobs USING btree (queue, id) WHERE (finished_at IS NOT NULL);

CREATE INDEX aqueue_jobs_finished_task ON aqueue_jobs USING btree (task, id) WHERE (finished_at IS NOT NULL);

CREATE INDEX aqueue_jobs_leased ON aqueue_jobs USING btree (lease_expires_at) WHERE (lease_expires_at IS NOT NULL);

CREATE INDEX aqueue_jobs_limited ON aqueue_jobs USING btree (task, limit_key, priority DESC, scheduled_at, id) INCLUDE (queue) WHERE ((status = 'queued'::text) AND (limit_key IS NOT NULL));

CREATE INDEX aqueue_jobs_limited_running ON aqueue_jobs USING btree (task, limit_key) WHERE ((status = 'running'::text) AND (limit_key IS NOT NULL));

CREATE INDEX aqueue_jobs_problems ON aqueue_jobs USING btree (status, queue, id) INCLUDE (task) WHERE (status = ANY (ARRAY['failed'::text, 'cancelled'::text]));

CREATE INDEX aqueue_jobs_problems_recent ON aqueue_jobs USING btree (status, id) WHERE (status = ANY (ARRAY['failed'::text, 'cancelled'::text]));

CREATE INDEX aqueue_jobs_problems_task ON aqueue_jobs USING btree (status, task, id) WHERE (status = ANY (ARRAY['failed'::text, 'cancelled'::text]));

CREATE UNIQUE INDEX aqueue_jobs_unique_key ON aqueue_jobs USING btree (unique_key) WHERE ((unique_key IS NOT NULL) AND (status = ANY (ARRAY['queued'::text, 'running'::text])));

CREATE INDEX aqueue_limit_starts_key ON aqueue_limit_starts USING btree (task, limit_key, started_at);

CREATE INDEX aqueue_unique_keys_job ON aqueue_unique_keys USING btree (job_id);

ALTER TABLE ONLY aqueue_batches
    ADD CONSTRAINT aqueue_batches_anchor_fkey FOREIGN KEY (anchor) REFERENCES aqueue_jobs(id) ON DELETE CASCADE;

ALTER TABLE ONLY aqueue_job_output
    ADD CONSTRAINT aqueue_job_output_job_id_fkey FOREIGN KEY (job_id) REFERENCES aqueue_jobs(id) ON DELETE CASCADE;

ALTER TABLE ONLY aqueue_job_signals
    ADD CONSTRAINT aqueue_job_signals_job_id_fkey FOREIGN KEY (job_id) REFERENCES aqueue_jobs(id) ON DELETE CASCADE;

ALTER TABLE ONLY aqueue_job_steps
    ADD CONSTRAINT aqueue_job_steps_job_id_fkey FOREIGN KEY (job_id) REFERENCES aqueue_jobs(id) ON DELETE CASCADE;

ALTER TABLE ONLY aqueue_job_tags
    ADD CONSTRAINT aqueue_job_tags_job_id_fkey FOREIGN KEY (job_id) REFERENCES aqueue_jobs(id) ON DELETE CASCADE;

ALTER TABLE ONLY aqueue_unique_keys
    ADD CONSTRAINT aqueue_unique_keys_job_id_fkey FOREIGN KEY (job_id) REFERENCES aqueue_jobs(id) ON DELETE CASCADE;
