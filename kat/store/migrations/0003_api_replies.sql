-- The data API remembers its answer to each write that carried an Idempotency-Key,
-- so a worker that retries a write (its answer was lost) gets the same answer and
-- the write is not made twice.
CREATE TABLE api_replies (
    key TEXT PRIMARY KEY,
    reply TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX api_replies_created_at ON api_replies (created_at);
