-- 回访 rounds: every resolution opens a new callback (the old UNIQUE (ticket_id, assignment_id) blocked the
-- callback after a 重办); one event opens at most one, and a ticket has at most one open at a time.
ALTER TABLE callbacks DROP CONSTRAINT callbacks_ticket_id_assignment_id_key;
ALTER TABLE callbacks DROP CONSTRAINT callbacks_status_check;
ALTER TABLE callbacks
    ADD COLUMN opened_by        text,
    ADD COLUMN trigger          text        NOT NULL DEFAULT 'resolved' CHECK (trigger IN ('resolved', 'overdue')),
    ADD COLUMN round            integer     NOT NULL DEFAULT 1 CHECK (round >= 1),
    ADD COLUMN case_id          text,
    ADD COLUMN district         text,
    ADD COLUMN street           text,
    ADD COLUMN category         text,
    -- The callback deadline is sla's (its callback clock); this is the copy sla announced.
    ADD COLUMN due_by           timestamptz,
    ADD COLUMN attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    ADD COLUMN next_attempt_at  timestamptz,
    ADD COLUMN claimed_by       text,
    ADD COLUMN claimed_at       timestamptz,
    ADD COLUMN reason           text CHECK (reason IN ('not_handled', 'poorly_handled', 'too_slow', 'attitude',
                                                      'unreasonable_demand', 'policy_limit', 'other')),
    ADD COLUMN verdict          text CHECK (verdict IN ('close', 'rehandle', 'record_only')),
    ADD COLUMN via              text CHECK (via IN ('operator', 'link')),
    ADD COLUMN closed_at        timestamptz;
ALTER TABLE callbacks ADD CONSTRAINT callbacks_status_check CHECK (status IN ('due', 'done', 'unreachable'));
CREATE UNIQUE INDEX callbacks_opened_by ON callbacks (opened_by) WHERE opened_by IS NOT NULL;
CREATE UNIQUE INDEX callbacks_one_open ON callbacks (ticket_id) WHERE status = 'due';
CREATE INDEX callbacks_ticket ON callbacks (ticket_id);
DROP INDEX callbacks_due;
CREATE INDEX callbacks_due ON callbacks (opened_at, id) WHERE status = 'due';

-- What feedback knows about a ticket from its lifecycle (where it is, its case): the due list's filters.
CREATE TABLE callback_tickets (
    ticket_id  text PRIMARY KEY,
    district   text,
    street     text,
    category   text,
    case_id    text
);

-- One-time links for the citizen: only the token's SHA-256 is kept.
CREATE TABLE callback_links (
    id           bigserial PRIMARY KEY,
    callback_id  bigint      NOT NULL REFERENCES callbacks (id),
    token_hash   text        NOT NULL UNIQUE,
    issued_by    text        NOT NULL,
    issued_at    timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);
CREATE INDEX callback_links_callback ON callback_links (callback_id);
