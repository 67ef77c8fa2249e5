-- Recurring problems (data flowing back): repeated requests or repeated dissatisfaction about one place
-- and category, which a supervisor can turn into a proactive ticket (主动发现).

-- What the recurring detector knows about a ticket: its place, category and lead department.
CREATE TABLE recurring_tickets (
    ticket_id  text PRIMARY KEY,
    district   text,
    street     text,
    grid       text,
    category   text,
    dept_code  text,
    address    text,
    lat        double precision,
    lon        double precision
);

-- One row per signal: a request (a ticket dispatched, or merged into a case: 并单) or a dissatisfied callback.
CREATE TABLE recurring_signals (
    signal_key   text PRIMARY KEY,  -- request:<ticket id> or dissatisfied:<callback id>: each counts once
    kind         text NOT NULL CHECK (kind IN ('request', 'dissatisfied')),
    ticket_id    text NOT NULL,
    place_level  text NOT NULL CHECK (place_level IN ('grid', 'street')),
    place        text NOT NULL,
    category     text NOT NULL,
    at           timestamptz NOT NULL
);
CREATE INDEX recurring_signals_place ON recurring_signals (place_level, place, category, kind, at);

CREATE TABLE recurring_problems (
    id            bigserial PRIMARY KEY,
    place_level   text NOT NULL CHECK (place_level IN ('grid', 'street')),
    place         text NOT NULL,
    category      text NOT NULL,
    district      text,
    street        text,
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'converted')),
    reason        text NOT NULL CHECK (reason IN ('requests', 'dissatisfied')),
    requests      integer NOT NULL,
    dissatisfied  integer NOT NULL,
    tickets       text[] NOT NULL,
    first_at      timestamptz NOT NULL,
    last_at       timestamptz NOT NULL,
    dept_code     text,   -- the lead department of the latest ticket there: the one a proactive task goes to
    address       text,   -- the latest ticket's location, so routing places the proactive ticket there too
    lat           double precision,
    lon           double precision,
    flagged_at    timestamptz NOT NULL,
    converted_at  timestamptz,
    converted_by  text,
    ticket_id     text    -- the proactive ticket
);
CREATE UNIQUE INDEX recurring_problems_one_open ON recurring_problems (place_level, place, category)
    WHERE status = 'open';
