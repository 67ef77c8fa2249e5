-- Channel gains 'proactive' (主动发现: a ticket the city raises itself, e.g. from a recurring problem).
ALTER TABLE tickets DROP CONSTRAINT tickets_channel_check;
ALTER TABLE tickets ADD CONSTRAINT tickets_channel_check CHECK (channel IN (
    'hotline', 'web', 'app', 'open311', 'department', 'proactive'));
