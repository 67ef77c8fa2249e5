"""回访 and 重办: callbacks open when a department resolves (or a resolve deadline passes), operators or the
citizen's one-time link record the outcome, and the rules decide whether the ticket closes or is re-handled."""
