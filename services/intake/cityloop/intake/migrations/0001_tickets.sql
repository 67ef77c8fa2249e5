CREATE SEQUENCE ticket_number;

-- The ticket's content and its current state (projected from ticket.lifecycle).
CREATE TABLE tickets (
    id           text PRIMARY KEY,
    channel      text        NOT NULL,
    category     text,
    description  text        NOT NULL,
    location     jsonb       NOT NULL,
    urgency      text        NOT NULL,
    status       text        NOT NULL,
    dept_code    text,
    operator     text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    closed_at    timestamptz
);
CREATE INDEX tickets_status ON tickets (status, created_at);

-- Personal data lives apart from ticket content, so it can be protected and masked on its own.
CREATE TABLE ticket_citizens (
    ticket_id  text PRIMARY KEY REFERENCES tickets (id),
    name       text,
    phone      text,
    id_number  text,
    address    text,
    is_company boolean NOT NULL DEFAULT false
);

-- The trail (留痕): every event about the ticket, in the order it happened.
CREATE TABLE ticket_timeline (
    seq        bigserial PRIMARY KEY,
    ticket_id  text        NOT NULL REFERENCES tickets (id),
    event_id   text        NOT NULL UNIQUE,
    type       text        NOT NULL,
    time       timestamptz NOT NULL,
    actor      text        NOT NULL,
    summary    text        NOT NULL,
    status     text,
    detail     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX ticket_timeline_ticket ON ticket_timeline (ticket_id, seq);

-- Idempotency-Key -> the ticket it created and a hash of the body that created it.
CREATE TABLE idempotency_keys (
    key          text PRIMARY KEY,
    request_hash text        NOT NULL,
    ticket_id    text        NOT NULL REFERENCES tickets (id),
    created_at   timestamptz NOT NULL DEFAULT now()
);
