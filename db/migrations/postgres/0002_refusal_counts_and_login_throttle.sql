-- Refused requests are recorded as one row per client, action and minute with a count, so a flood
-- of them grows the table by a row a minute, not a row a request. Ordinary events leave
-- refusal_key NULL (NULLs never collide in a unique index).
ALTER TABLE audit_events ADD COLUMN count BIGINT NOT NULL DEFAULT 1;
ALTER TABLE audit_events ADD COLUMN refusal_key TEXT;
CREATE UNIQUE INDEX audit_events_by_refusal_key ON audit_events (refusal_key);

-- Failed logins per account name (known or not, so the answer does not tell which exist), and
-- until when the account refuses further attempts. A successful login deletes the row.
CREATE TABLE login_failures (
    username      TEXT    PRIMARY KEY,
    failures      BIGINT  NOT NULL,
    locked_until  TEXT
);
