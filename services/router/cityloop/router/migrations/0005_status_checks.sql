-- Status columns mirror their enums (tickets/status.py): a value the code does not know is refused here too.
ALTER TABLE tickets ADD CONSTRAINT tickets_status_check CHECK (status IN (
    'received', 'needs_dispatcher', 'handed_over', 'dispatched', 'accepted', 'resolved', 'closed', 'merged'));
ALTER TABLE assignments ADD CONSTRAINT assignments_status_check CHECK (status IN (
    'assigned', 'accepted', 'rejected', 'resolved', 'withdrawn'));
