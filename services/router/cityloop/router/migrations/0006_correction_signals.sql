-- Signals that the catalogue may be wrong about who owns a category: a lead's 退单 naming another
-- department, a dispatcher's correction of the lead. Repeated ones become correction proposals
-- (corrections/proposals.py) in the corrections queue, for a person to review.
CREATE TABLE correction_signals (
    id          bigserial PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind IN ('rejection', 'dispatcher')),
    ticket_id   text        NOT NULL,
    category    text        NOT NULL,
    from_owner  text        NOT NULL,  -- level:type of the department that led
    to_owner    text        NOT NULL,  -- level:type of the department named instead
    at          timestamptz NOT NULL
);
CREATE INDEX correction_signals_pair ON correction_signals (category, from_owner, to_owner, at);
