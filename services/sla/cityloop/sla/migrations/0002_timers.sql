-- Clocks become durable timers with one "next moment" each and an escalation ladder:
-- step 0 warning (预警), 1 breach and 催办, 2.. 督办 up the chain, then 通报; next_fire_at is NULL
-- once a clock is closed or its ladder is done. The firing loop reads only the partial index on
-- next_fire_at, so millions of far-away timers cost nothing per round.
ALTER TABLE clocks
    ADD COLUMN category          text,
    ADD COLUMN urgency           text,
    ADD COLUMN mode              text        NOT NULL DEFAULT 'peacetime' CHECK (mode IN ('peacetime', 'emergency')),
    ADD COLUMN command_unit      text,
    ADD COLUMN supervisors       text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN opened_by         text,
    ADD COLUMN estimated         boolean     NOT NULL DEFAULT false,
    ADD COLUMN warn_ratio        real        NOT NULL DEFAULT 0.8,
    ADD COLUMN latest_due_at     timestamptz,
    ADD COLUMN escalate_days     integer,
    ADD COLUMN escalate_seconds  double precision,
    ADD COLUMN step              smallint    NOT NULL DEFAULT 0,
    ADD COLUMN next_fire_at      timestamptz,
    ADD COLUMN fired_step        smallint,
    ADD COLUMN fired_due_at      timestamptz,
    ADD COLUMN fired_at          timestamptz,
    ADD COLUMN fire_count        integer     NOT NULL DEFAULT 0,
    ADD COLUMN moves             integer     NOT NULL DEFAULT 0;

-- Rows from the skeleton: keep them firing from where they were.
UPDATE clocks SET
    escalate_days = 1,
    step = CASE WHEN breached_at IS NOT NULL THEN 2 WHEN warned_at IS NOT NULL OR warn_at IS NULL THEN 1 ELSE 0 END,
    next_fire_at = CASE
        WHEN state <> 'open' OR breached_at IS NOT NULL THEN NULL
        WHEN warned_at IS NOT NULL OR warn_at IS NULL THEN due_at
        ELSE warn_at END,
    state = CASE WHEN state = 'breached' THEN 'open' ELSE state END;

ALTER TABLE clocks DROP CONSTRAINT clocks_state_check;
ALTER TABLE clocks ADD CONSTRAINT clocks_state_check CHECK (state IN ('open', 'met', 'cancelled'));
ALTER TABLE clocks ADD CONSTRAINT clocks_escalation_span CHECK (escalate_days IS NOT NULL OR escalate_seconds IS NOT NULL);
-- One event opens at most one clock of a kind; a ticket may hold several clocks of a kind over time
-- (re-dispatch, a second 重办).
ALTER TABLE clocks DROP CONSTRAINT clocks_ticket_id_kind_assignment_id_key;
CREATE UNIQUE INDEX clocks_opened_by ON clocks (opened_by, kind) WHERE opened_by IS NOT NULL;

DROP INDEX clocks_warn;
DROP INDEX clocks_due;
DROP INDEX clocks_ticket;
CREATE INDEX clocks_next_fire ON clocks (next_fire_at) WHERE next_fire_at IS NOT NULL;
CREATE INDEX clocks_ticket ON clocks (ticket_id);

-- 延期: a department's request waits here for a dispatcher or a supervising unit.
CREATE TABLE extensions (
    id                  bigserial PRIMARY KEY,
    clock_id            bigint      NOT NULL REFERENCES clocks (id),
    ticket_id           text        NOT NULL,
    assignment_id       text,
    dept_code           text,
    requested_deadline  timestamptz NOT NULL,
    requested_at        timestamptz NOT NULL,
    requested_by_event  text        NOT NULL UNIQUE,
    note                text,
    status              text        NOT NULL DEFAULT 'pending'
                                    CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn')),
    decided_by          text,
    decided_role        text,
    decided_at          timestamptz,
    decision_note       text,
    granted_deadline    timestamptz
);
CREATE INDEX extensions_pending ON extensions (requested_at) WHERE status = 'pending';
CREATE INDEX extensions_ticket ON extensions (ticket_id);
