-- An idle worker's standing offer to take a job at once (aqueue/offers.py).
-- A producer enqueueing one job due now takes an offer in its INSERT, writes
-- the job as that worker's running attempt and hands it over on the
-- aqueue_handover channel: the worker starts it without a claim. An offer is used
-- once (the producer deletes it) and lapses at expires_at, so the offer of a
-- worker that died can take at most one job, which its lease then returns.
-- Rows come and go with every handed-over job: a small table that pruning on
-- each page keeps small.
CREATE TABLE aqueue_offers (
    worker text PRIMARY KEY,
    -- NULL: every queue.
    queues text[],
    -- The worker's lease (seconds): the handed-over attempt's first lease.
    lease double precision NOT NULL,
    -- The worker's own clock (time.monotonic()) when it last offered, sent
    -- back with the job: the worker knows from it, without trusting clocks to
    -- agree, whether the attempt's lease may have ended before it heard.
    token double precision NOT NULL,
    offered_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at timestamptz NOT NULL
);
