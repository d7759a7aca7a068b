-- Continuous scanning: when each (organisation, boefje, input) pair runs next, the
-- scheduler's lease (one scheduler acts at a time), and the boefje runs whose raws
-- may be reused within the grace period (deduplication).
CREATE TABLE schedule (
    organization TEXT NOT NULL,
    boefje_id TEXT NOT NULL,
    input_ooi TEXT NOT NULL,
    level INTEGER NOT NULL,
    next_at TEXT NOT NULL,
    urgent INTEGER NOT NULL DEFAULT 0,
    last_job TEXT,
    last_at TEXT,
    PRIMARY KEY (organization, boefje_id, input_ooi)
);
CREATE INDEX schedule_next_at ON schedule (next_at);
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE boefje_runs (
    run_key TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    ended_at TEXT NOT NULL
);
