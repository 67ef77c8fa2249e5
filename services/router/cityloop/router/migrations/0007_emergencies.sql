-- Emergency mode (平战结合): the emergencies router declared, every call on them, surge proposals, and
-- which emergency each ticket and task is handled under (NULL: peacetime).
CREATE TABLE emergencies (
    id             text PRIMARY KEY,
    name           text        NOT NULL,
    level          text        NOT NULL CHECK (level IN ('I', 'II', 'III', 'IV')),
    scope          jsonb       NOT NULL,
    categories     jsonb       NOT NULL,
    command_unit   text        NOT NULL,
    participants   jsonb       NOT NULL,
    deadlines      jsonb       NOT NULL,
    declared_by    text        NOT NULL,
    declared_at    timestamptz NOT NULL,
    proposal_id    text,
    status         text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'stood_down')),
    stood_down_at  timestamptz,
    stood_down_by  text,
    version        integer     NOT NULL DEFAULT 1,
    CHECK ((status = 'stood_down') = (stood_down_at IS NOT NULL))
);
CREATE INDEX emergencies_active ON emergencies (declared_at) WHERE status = 'active';

-- The emergency's own trail: every call (declare, update, stand-down, proposal decisions) and every
-- re-homing run, with who and when.
CREATE TABLE emergency_log (
    id            bigserial PRIMARY KEY,
    emergency_id  text,
    proposal_id   text,
    action        text        NOT NULL CHECK (action IN (
                      'declared', 'updated', 'stood_down', 'rehomed', 'proposal_received', 'proposal_confirmed',
                      'proposal_dismissed')),
    actor         text        NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    detail        jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX emergency_log_emergency ON emergency_log (emergency_id, id);

-- Surge proposals from the stream processor (cityloop.mode.emergency_proposed); a person decides.
CREATE TABLE proposals (
    id            text PRIMARY KEY,
    proposed      jsonb       NOT NULL,
    proposed_at   timestamptz NOT NULL,
    status        text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'dismissed')),
    decided_by    text,
    decided_at    timestamptz,
    note          text,
    emergency_id  text
);
CREATE INDEX proposals_pending ON proposals (proposed_at) WHERE status = 'pending';

-- Where a ticket is (for scope checks in bulk) and the emergency it is handled under.
ALTER TABLE tickets
    ADD COLUMN district      text,
    ADD COLUMN street        text,
    ADD COLUMN emergency_id  text;
UPDATE tickets SET district = resolved -> 'chain' ->> 'district', street = resolved -> 'chain' ->> 'street'
    WHERE resolved IS NOT NULL;
CREATE INDEX tickets_emergency ON tickets (emergency_id) WHERE emergency_id IS NOT NULL;
CREATE INDEX tickets_open_category ON tickets (category) WHERE status IN ('dispatched', 'accepted');

ALTER TABLE assignments
    ADD COLUMN mode          text NOT NULL DEFAULT 'peacetime' CHECK (mode IN ('peacetime', 'emergency')),
    ADD COLUMN emergency_id  text,
    ADD CONSTRAINT assignments_mode_emergency CHECK ((mode = 'emergency') = (emergency_id IS NOT NULL));
-- sla owns deadlines; which of a live task's clocks sla reported breached (for an emergency's counts).
ALTER TABLE assignments ADD COLUMN overdue_kinds text[] NOT NULL DEFAULT '{}';
CREATE INDEX assignments_emergency ON assignments (emergency_id) WHERE emergency_id IS NOT NULL;
CREATE INDEX assignments_live ON assignments (ticket_id) WHERE status IN ('assigned', 'accepted');

ALTER TABLE cases ADD COLUMN emergency_id text;
