-- Master data: departments and the dispatch catalogue (派单目录).
CREATE TABLE departments (
    code      text PRIMARY KEY CHECK (code ~ '^[a-z0-9][a-z0-9-]*$'),
    name      text NOT NULL,
    type      text NOT NULL,   -- sanitation, transport, water ...
    level     text NOT NULL CHECK (level IN ('city', 'district', 'street', 'community', 'grid')),
    district  text             -- the district it serves; NULL for city-level units
);

CREATE TABLE districts (
    code  text PRIMARY KEY,
    name  text NOT NULL UNIQUE
);

CREATE TABLE categories (
    code          text PRIMARY KEY,
    name          text    NOT NULL,
    dept_type     text,             -- NULL when handed over (110/119/120/122)
    dept_level    text    NOT NULL DEFAULT 'district',
    handover_to   text,             -- '110', '119', '120', '122'
    accept_days   integer NOT NULL DEFAULT 1,
    resolve_days  integer NOT NULL DEFAULT 5
);

-- Router's view of each ticket and every assignment it made.
CREATE TABLE tickets (
    ticket_id    text PRIMARY KEY,
    category     text,
    description  text        NOT NULL,
    location     jsonb       NOT NULL,
    urgency      text        NOT NULL,
    citizen      jsonb       NOT NULL DEFAULT '{}',
    status       text        NOT NULL,
    created_at   timestamptz NOT NULL
);

CREATE TABLE assignments (
    id          text PRIMARY KEY,
    ticket_id   text        NOT NULL REFERENCES tickets (ticket_id),
    dept_code   text        NOT NULL REFERENCES departments (code),
    role        text        NOT NULL CHECK (role IN ('lead', 'assist')),
    status      text        NOT NULL,
    reason      jsonb       NOT NULL DEFAULT '{}',
    accept_by   timestamptz,
    resolve_by  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assignments_ticket ON assignments (ticket_id);
