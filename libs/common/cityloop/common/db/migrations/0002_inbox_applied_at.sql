-- Housekeeping (housekeeping.py) deletes inbox rows older than the retention in small batches: by date.
CREATE INDEX IF NOT EXISTS inbox_applied_at ON inbox (applied_at);
