-- Every timestamp is UTC text in RFC 3339 with millisecond precision, e.g. 2026-11-27T10:00:00.000Z.

CREATE TABLE model_versions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    version         TEXT    NOT NULL UNIQUE,
    path            TEXT    NOT NULL,
    created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    activated_at    TEXT,
    metrics         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metrics)),
    status          TEXT    NOT NULL DEFAULT 'candidate'
                            CHECK (status IN ('active', 'candidate', 'archived')),
    parent_version  TEXT REFERENCES model_versions (version)
);
-- At most one model serves at a time.
CREATE UNIQUE INDEX model_versions_one_active ON model_versions (status) WHERE status = 'active';

CREATE TABLE training_sessions (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    status              TEXT    NOT NULL DEFAULT 'queued'
                                CHECK (status IN ('queued', 'running', 'completed', 'failed', 'rejected')),
    epochs              INTEGER NOT NULL CHECK (epochs >= 0),
    fine_tune_epochs    INTEGER NOT NULL DEFAULT 0 CHECK (fine_tune_epochs >= 0),
    images_used         INTEGER NOT NULL DEFAULT 0,
    accuracy_before     REAL,
    accuracy_after      REAL,
    precision_before    REAL,
    precision_after     REAL,
    recall_before       REAL,
    recall_after        REAL,
    f1_before           REAL,
    f1_after            REAL,
    history             TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(history)),
    model_version       TEXT REFERENCES model_versions (version),
    message             TEXT,
    error               TEXT,
    created_at          TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    started_at          TEXT,
    finished_at         TEXT
);
CREATE INDEX training_sessions_by_status ON training_sessions (status);

CREATE TABLE uploaded_images (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    filename             TEXT    NOT NULL,
    class_name           TEXT    NOT NULL
                                 CHECK (class_name IN ('glioma', 'meningioma', 'notumor', 'pituitary')),
    stored_path          TEXT    NOT NULL,
    size_bytes           INTEGER NOT NULL CHECK (size_bytes > 0),
    sha256               TEXT    NOT NULL UNIQUE CHECK (length(sha256) = 64),
    width                INTEGER NOT NULL CHECK (width > 0),
    height               INTEGER NOT NULL CHECK (height > 0),
    uploaded_at          TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    processed            INTEGER NOT NULL DEFAULT 0 CHECK (processed IN (0, 1)),
    used_for_training    INTEGER NOT NULL DEFAULT 0 CHECK (used_for_training IN (0, 1)),
    training_session_id  INTEGER REFERENCES training_sessions (id),
    metadata             TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata))
);
CREATE INDEX uploaded_images_pending ON uploaded_images (used_for_training, class_name);

CREATE TABLE preprocessing_logs (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    training_session_id  INTEGER REFERENCES training_sessions (id),
    images_processed     INTEGER NOT NULL DEFAULT 0,
    features_extracted   INTEGER NOT NULL DEFAULT 0,
    seconds              REAL    NOT NULL DEFAULT 0,
    status               TEXT    NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    error                TEXT,
    created_at           TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE predictions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    predicted_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    model_version    TEXT    NOT NULL,
    predicted_class  TEXT    NOT NULL,
    confidence       REAL    NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    latency_ms       REAL    NOT NULL CHECK (latency_ms >= 0),
    source           TEXT    NOT NULL CHECK (source IN ('api', 'batch', 'ui', 'cli'))
);
CREATE INDEX predictions_by_time ON predictions (predicted_at);
