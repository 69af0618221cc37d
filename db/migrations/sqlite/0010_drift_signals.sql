-- Drift: what each prediction's slice showed of its source, compared with the serving model's
-- validation split on the Monitor page. The not-an-MRI distance (NULL for a model without the
-- check), the mean grey level and contrast (standard deviation) of the 8-bit head crop the model
-- saw, and the slice's size as sent (sqrt(width * height) pixels). NULL for older predictions.
ALTER TABLE predictions ADD COLUMN ood_distance REAL;
ALTER TABLE predictions ADD COLUMN mean_intensity REAL;
ALTER TABLE predictions ADD COLUMN contrast REAL;
ALTER TABLE predictions ADD COLUMN slice_size REAL;
-- The recent window is one version's newest predictions.
CREATE INDEX predictions_by_version ON predictions (model_version, id);
