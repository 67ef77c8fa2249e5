-- 重办: a failed callback reopens the lead's resolved assignment (rehandle/flows.py); tickets/status.py mirrors it.
ALTER TABLE assignments DROP CONSTRAINT assignments_status_check;
ALTER TABLE assignments ADD CONSTRAINT assignments_status_check CHECK (status IN (
    'assigned', 'accepted', 'rejected', 'resolved', 'withdrawn', 'reopened'));
