-- "Every call is on the trail": the command centre's reads of emergencies and proposals are logged too
-- (who, when, what), as action 'read' (emergencies/views.py).
ALTER TABLE emergency_log DROP CONSTRAINT emergency_log_action_check;
ALTER TABLE emergency_log ADD CONSTRAINT emergency_log_action_check CHECK (action IN (
    'declared', 'updated', 'stood_down', 'rehomed', 'proposal_received', 'proposal_confirmed',
    'proposal_dismissed', 'read'));
