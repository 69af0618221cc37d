-- Suspect labels: a training upload whose label the serving model confidently contradicted is held
-- for an annotator instead of being trained on. 'held' rows are never pending; an annotator confirms
-- the label, relabels the image (both make it pending) or discards it (kept for the record, never
-- trained on).
ALTER TABLE uploaded_images ADD COLUMN review TEXT NOT NULL DEFAULT 'none'
    CHECK (review IN ('none', 'held', 'confirmed', 'relabelled', 'discarded'));
-- JSON: the model version and probabilities behind a hold, then who decided what and when.
ALTER TABLE uploaded_images ADD COLUMN review_detail TEXT CHECK (review_detail IS NULL OR json_valid(review_detail));
CREATE INDEX uploaded_images_held ON uploaded_images (review) WHERE review = 'held';
