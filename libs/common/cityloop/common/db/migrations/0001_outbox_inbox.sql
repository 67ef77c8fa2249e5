-- Transactional outbox: a business row and the event announcing it commit together;
-- the relay publishes rows in id order and marks them. Unqualified names land in the
-- service's own schema (search_path).
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    topic        text        NOT NULL,
    key          text,
    event_id     text        NOT NULL UNIQUE,
    payload      bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Inbox: "event X applied by consumer C", written in the same transaction as the effect,
-- so a redelivered event is a no-op.
CREATE TABLE inbox (
    consumer   text        NOT NULL,
    event_id   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
