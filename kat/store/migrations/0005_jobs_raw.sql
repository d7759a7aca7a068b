-- The normalizer jobs of a raw, found by its id: when a boefje job runs again, the
-- jobs of its earlier raws that never began are superseded in the write of its new raws.
CREATE INDEX jobs_raw ON jobs (raw_id);
