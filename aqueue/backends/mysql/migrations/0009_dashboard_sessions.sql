-- The dashboard's log-in sessions (aqueue/web/sessions.py): one row per log-in,
-- ended by logging out or by expires_at. The key is an HMAC of the cookie's
-- secret under the dashboard's token: a copy of this table opens no session,
-- and a new token ends every old one.
CREATE TABLE aqueue_sessions (
    `key` CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    PRIMARY KEY (`key`)
) ENGINE = InnoDB;
