-- Accounts, browser sessions, API tokens and the audit trail. Secrets are never stored: passwords as
-- argon2 PHC strings, session and API tokens as the SHA-256 of a 256-bit random value.

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    username       TEXT    NOT NULL UNIQUE COLLATE NOCASE
                           CHECK (length(username) BETWEEN 1 AND 64),
    password_hash  TEXT    NOT NULL,
    role           TEXT    NOT NULL CHECK (role IN ('viewer', 'annotator', 'admin')),
    created_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE user_sessions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token_sha256  TEXT    NOT NULL UNIQUE CHECK (length(token_sha256) = 64),
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    TEXT    NOT NULL,
    expires_at    TEXT    NOT NULL
);
CREATE INDEX user_sessions_by_user ON user_sessions (user_id);

CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    token_sha256  TEXT    NOT NULL UNIQUE CHECK (length(token_sha256) = 64),
    role          TEXT    NOT NULL CHECK (role IN ('viewer', 'annotator', 'admin')),
    created_by    TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    last_used_at  TEXT,
    revoked_at    TEXT
);

CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    target     TEXT,
    outcome    TEXT    NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
    client     TEXT,
    detail     TEXT
);
CREATE INDEX audit_events_by_time ON audit_events (at);

-- Uploads an admin marks as the trusted reference set are never trained on; the gate judges new
-- versions on them when the original training data is absent.
ALTER TABLE uploaded_images ADD COLUMN purpose TEXT NOT NULL DEFAULT 'training'
    CHECK (purpose IN ('training', 'reference'));
ALTER TABLE uploaded_images ADD COLUMN uploaded_by TEXT;
