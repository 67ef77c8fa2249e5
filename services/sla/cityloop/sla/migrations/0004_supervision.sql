-- 督办 with a desk. Each department clock carries the desks that supervise its owner (router's
-- Dispatched.desks: district ops, then city ops). When the clock's first 督办 step fires, the late task
-- goes on the nearest desk: one supervision per clock (its id is the clock's), moved up by later 督办
-- steps or by the desk's own "escalate".
ALTER TABLE clocks ADD COLUMN desks text[] NOT NULL DEFAULT '{}';

CREATE TABLE supervisions (
    clock_id             bigint      PRIMARY KEY REFERENCES clocks (id),
    ticket_id            text        NOT NULL,
    assignment_id        text,
    dept_code            text,
    category             text,
    kind                 text        NOT NULL,
    due_at               timestamptz NOT NULL,
    desk                 text        NOT NULL,
    level                smallint    NOT NULL CHECK (level >= 1),
    desks                text[]      NOT NULL,
    status               text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    opened_at            timestamptz NOT NULL,
    escalated_from       text,
    urges                integer     NOT NULL DEFAULT 0,
    last_note            text,
    supervised_deadline  timestamptz,
    closed_at            timestamptz,
    closed_by            text,
    CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
-- A desk's list: its open items, oldest first.
CREATE INDEX supervisions_desk ON supervisions (desk, status, opened_at, clock_id);

-- 通报: each notice step fired (chronic lateness), counted per department and period.
CREATE TABLE lateness_notices (
    clock_id   bigint      NOT NULL REFERENCES clocks (id),
    fired_at   timestamptz NOT NULL,
    ticket_id  text        NOT NULL,
    dept_code  text,
    kind       text        NOT NULL,
    PRIMARY KEY (clock_id, fired_at)
);
CREATE INDEX lateness_notices_when ON lateness_notices (fired_at, dept_code);
