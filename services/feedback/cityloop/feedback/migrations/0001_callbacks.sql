-- One callback (回访) per resolution of a ticket; a re-handled ticket gets a new one.
CREATE TABLE callbacks (
    id             bigserial PRIMARY KEY,
    ticket_id      text        NOT NULL,
    assignment_id  text,
    dept_code      text,
    status         text        NOT NULL DEFAULT 'due' CHECK (status IN ('due', 'done')),
    opened_at      timestamptz NOT NULL,
    solved         boolean,
    satisfaction   text CHECK (satisfaction IN ('satisfied', 'basically_satisfied', 'unsatisfied')),
    note           text,
    recorded_by    text,
    recorded_at    timestamptz,
    UNIQUE (ticket_id, assignment_id)
);
CREATE INDEX callbacks_due ON callbacks (opened_at) WHERE status = 'due';
