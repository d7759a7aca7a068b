-- The lifecycle: runs that never ended are counted (poison jobs), a retried job
-- names the job it retries, raws keep their order, workers say they are alive.
ALTER TABLE jobs ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN retry_of TEXT;
CREATE INDEX jobs_queued_at ON jobs (queued_at);
ALTER TABLE raws ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
CREATE TABLE workers (
    name TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    queues TEXT NOT NULL
);
