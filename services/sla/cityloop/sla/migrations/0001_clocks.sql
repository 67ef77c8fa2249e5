-- One row per deadline: a durable timer that survives restarts and fires once.
CREATE TABLE clocks (
    id             bigserial PRIMARY KEY,
    ticket_id      text        NOT NULL,
    assignment_id  text,
    dept_code      text,
    kind           text        NOT NULL CHECK (kind IN ('accept', 'resolve', 'callback', 'rehandle')),
    started_at     timestamptz NOT NULL,
    warn_at        timestamptz,
    due_at         timestamptz NOT NULL,
    state          text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'met', 'breached', 'cancelled')),
    warned_at      timestamptz,
    breached_at    timestamptz,
    closed_at      timestamptz,
    UNIQUE (ticket_id, kind, assignment_id)
);
-- The firing loop reads only open clocks, by their next moment: warning, then deadline.
CREATE INDEX clocks_warn ON clocks (warn_at) WHERE state = 'open' AND warned_at IS NULL;
CREATE INDEX clocks_due ON clocks (due_at) WHERE state = 'open';
CREATE INDEX clocks_ticket ON clocks (ticket_id) WHERE state = 'open';
