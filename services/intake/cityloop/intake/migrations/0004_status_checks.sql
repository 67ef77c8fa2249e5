-- Enum columns mirror their enums (contract/models.py TicketStatus and Urgency, intake models.py Channel and Mode).
ALTER TABLE tickets ADD CONSTRAINT tickets_status_check CHECK (status IN (
    'received', 'needs_dispatcher', 'handed_over', 'dispatched', 'accepted', 'resolved', 'closed'));
ALTER TABLE tickets ADD CONSTRAINT tickets_channel_check CHECK (channel IN (
    'hotline', 'web', 'app', 'open311', 'department'));
ALTER TABLE tickets ADD CONSTRAINT tickets_urgency_check CHECK (urgency IN ('normal', 'urgent', 'critical'));
ALTER TABLE tickets ADD CONSTRAINT tickets_mode_check CHECK (mode IN ('peacetime', 'emergency'));
