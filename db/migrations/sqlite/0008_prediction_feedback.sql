-- Closing the loop from predictions. A prediction keeps what a reviewer and the review queue need:
-- its probabilities (JSON object, class -> probability), whether it was flagged for review, the
-- margin between its top two classes (the review queue's uncertainty order), and, when the server
-- keeps prediction slices, the storage key of its de-identified 8-bit PNG and when that expires.
ALTER TABLE predictions ADD COLUMN probabilities TEXT CHECK (probabilities IS NULL OR json_valid(probabilities));
ALTER TABLE predictions ADD COLUMN needs_review INTEGER NOT NULL DEFAULT 0 CHECK (needs_review IN (0, 1));
ALTER TABLE predictions ADD COLUMN margin REAL CHECK (margin IS NULL OR margin BETWEEN 0 AND 1);
ALTER TABLE predictions ADD COLUMN slice_key TEXT;
ALTER TABLE predictions ADD COLUMN slice_expires_at TEXT;
CREATE INDEX predictions_with_slices ON predictions (slice_expires_at) WHERE slice_key IS NOT NULL;

-- A reviewer's word on a prediction: right, or wrong with the true class. Once per reviewer and
-- prediction. A correction becomes a training upload (`upload_id`, through the upload checks).
CREATE TABLE prediction_feedback (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    prediction_id  INTEGER NOT NULL REFERENCES predictions (id),
    reviewer       TEXT    NOT NULL,
    verdict        TEXT    NOT NULL CHECK (verdict IN ('right', 'wrong')),
    true_class     TEXT    NOT NULL
                           CHECK (true_class IN ('glioma', 'meningioma', 'notumor', 'pituitary')),
    upload_id      INTEGER REFERENCES uploaded_images (id),
    created_at     TEXT    NOT NULL,
    UNIQUE (prediction_id, reviewer)
);
CREATE INDEX prediction_feedback_by_prediction ON prediction_feedback (prediction_id);

-- Where a training upload came from: a reviewer's correction of this prediction (NULL for a bulk
-- upload).
ALTER TABLE uploaded_images ADD COLUMN prediction_id INTEGER REFERENCES predictions (id);
