-- Retraining jobs live in the database rather than in the memory of the process that started them:
-- every process can show the running job's progress, and the database allows one unfinished job.

-- An old database may hold several unfinished sessions (restarts marked them failed only at
-- start-up); all but the newest are failed so the index below can exist.
UPDATE training_sessions
SET status = 'failed', error = 'interrupted: the server stopped before the job finished',
    finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE status IN ('queued', 'running')
  AND id < (SELECT MAX(id) FROM training_sessions WHERE status IN ('queued', 'running'));

-- Live progress of a running job (JSON), who runs it, and when it last said it is alive.
ALTER TABLE training_sessions ADD COLUMN progress TEXT;
ALTER TABLE training_sessions ADD COLUMN worker TEXT;
ALTER TABLE training_sessions ADD COLUMN heartbeat_at TEXT;

-- One queued or running job at a time, whichever process triggers it.
CREATE UNIQUE INDEX training_sessions_one_unfinished
    ON training_sessions ((status IN ('queued', 'running')))
    WHERE status IN ('queued', 'running');
