-- kat 0.1: jobs, raws, objects and scans (IF NOT EXISTS: a store made before
-- versioned migrations already has these tables and keeps them as they are).
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    organization TEXT NOT NULL,
    plugin_id TEXT NOT NULL,
    plugin_version TEXT,
    input_ooi TEXT,
    raw_id TEXT,
    status TEXT NOT NULL,
    reason TEXT,
    detail TEXT,
    meta TEXT NOT NULL,
    runnable_hash TEXT,
    worker TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    queued_at TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT
);
CREATE INDEX IF NOT EXISTS jobs_org_status ON jobs (organization, status);
CREATE INDEX IF NOT EXISTS jobs_plugin ON jobs (plugin_id);
CREATE TABLE IF NOT EXISTS raws (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    organization TEXT NOT NULL,
    mime_types TEXT NOT NULL,
    size INTEGER NOT NULL,
    data {blob} NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS raws_job ON raws (job_id);
CREATE TABLE IF NOT EXISTS objects (
    id {autoid},
    job_id TEXT NOT NULL,
    organization TEXT NOT NULL,
    object_type TEXT NOT NULL,
    primary_key TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS objects_job ON objects (job_id);
CREATE INDEX IF NOT EXISTS objects_org_type ON objects (organization, object_type);
CREATE TABLE IF NOT EXISTS scans (
    id TEXT PRIMARY KEY,
    organization TEXT NOT NULL,
    inputs TEXT NOT NULL,
    depth INTEGER NOT NULL,
    scan_level INTEGER NOT NULL,
    boefjes TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scan_jobs (
    job_id TEXT PRIMARY KEY,
    scan_id TEXT NOT NULL,
    level INTEGER NOT NULL,
    boefje_id TEXT,
    input_ooi TEXT,
    UNIQUE (scan_id, boefje_id, input_ooi)
);
CREATE INDEX IF NOT EXISTS scan_jobs_scan ON scan_jobs (scan_id);
