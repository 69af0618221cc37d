-- How a job ended, as structured JSON (domain::outcome::JobOutcome) beside the message kept for
-- older clients, and who asked a running job to stop (the worker polls it with its heartbeat).
ALTER TABLE training_sessions ADD COLUMN outcome TEXT;
ALTER TABLE training_sessions ADD COLUMN cancel_requested_by TEXT;
