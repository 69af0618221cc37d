-- Which pending images a retraining job learns from (bulk uploads, reviewers' corrections, or both),
-- and how many of the images it learnt from were corrections.
ALTER TABLE training_sessions ADD COLUMN sources TEXT NOT NULL DEFAULT 'both'
    CHECK (sources IN ('both', 'uploads', 'feedback'));
ALTER TABLE training_sessions ADD COLUMN feedback_images INTEGER NOT NULL DEFAULT 0;
