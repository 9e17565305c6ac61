-- The dashboard's log-in sessions (aqueue/web/sessions.py): one row per log-in,
-- ended by logging out or by expires_at. The key is an HMAC of the cookie's
-- secret under the dashboard's token: a copy of this table opens no session,
-- and a new token ends every old one.
CREATE TABLE aqueue_sessions (
    key text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
