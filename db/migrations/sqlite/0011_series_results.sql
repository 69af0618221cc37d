-- A series' verdict, kept so a study's result can be found again from the study: its Study and
-- Series Instance UIDs are stored only as keyed SHA-256 hashes (key below, made once per database),
-- so the table leads from a study to its result, never from a row to a patient. `summary` is the
-- de-identified acquisition summary (modality, scanner, sizes) of its first slice.
CREATE TABLE series_uid_key (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    key  TEXT    NOT NULL
);
INSERT INTO series_uid_key (id, key) VALUES (1, lower(hex(randomblob(32))));

CREATE TABLE series_results (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    study_uid_hash   TEXT,
    series_uid_hash  TEXT,
    -- 'upload' (POST /predict/series) or 'pacs' (fetched over DICOMweb).
    source           TEXT    NOT NULL CHECK (source IN ('upload', 'pacs')),
    model_version    TEXT    NOT NULL,
    class_name       TEXT    CHECK (class_name IS NULL OR class_name IN ('glioma', 'meningioma', 'notumor', 'pituitary')),
    confidence       REAL,
    needs_review     INTEGER NOT NULL DEFAULT 0 CHECK (needs_review IN (0, 1)),
    slices           INTEGER NOT NULL,
    answered         INTEGER NOT NULL,
    -- JSON array of 1-based slice positions.
    driving_slices   TEXT    NOT NULL DEFAULT '[]',
    summary          TEXT,
    requested_by     TEXT,
    sent_to_pacs_at  TEXT,
    created_at       TEXT    NOT NULL
);
CREATE INDEX series_results_by_study ON series_results (study_uid_hash, created_at);
