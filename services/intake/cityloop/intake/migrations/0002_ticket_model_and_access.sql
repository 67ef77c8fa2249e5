-- Issue 3: the complete ticket, what intake projects from ticket.lifecycle, accounts and the access log.

ALTER TABLE tickets
    ADD COLUMN attachments   jsonb   NOT NULL DEFAULT '[]',
    ADD COLUMN attributes    jsonb   NOT NULL DEFAULT '{}',   -- extra typed fields (Open311 attribute[code])
    ADD COLUMN created_by    text,                           -- the authenticated account that created it
    ADD COLUMN direct_answer text,                           -- 直接答复: answered on the spot, created closed
    ADD COLUMN district      text,                           -- grid chain, as router resolved it
    ADD COLUMN street        text,
    ADD COLUMN mode          text    NOT NULL DEFAULT 'peacetime',
    ADD COLUMN emergency_id  text,
    ADD COLUMN agency        text,                           -- the lead department's name when known
    ADD COLUMN resolve_by    timestamptz,
    ADD COLUMN overdue       boolean NOT NULL DEFAULT false,
    ADD COLUMN status_notes  text;

CREATE INDEX tickets_created ON tickets (created_at DESC, id DESC);
CREATE INDEX tickets_category ON tickets (category, created_at DESC);
CREATE INDEX tickets_district ON tickets (district, street);
-- Free-text search over Chinese descriptions: trigrams work on CJK text (unlike the default tsearch parser).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX tickets_description_trgm ON tickets USING gin (description gin_trgm_ops);

ALTER TABLE ticket_citizens
    ADD COLUMN company text,
    ADD COLUMN email   text;

-- Every department that held the ticket, now or before: the scope of department staff.
CREATE TABLE ticket_assignments (
    ticket_id     text        NOT NULL REFERENCES tickets (id),
    assignment_id text        NOT NULL,
    dept_code     text        NOT NULL,
    role          text        NOT NULL DEFAULT 'lead',
    assigned_at   timestamptz NOT NULL,
    ended_at      timestamptz,
    PRIMARY KEY (ticket_id, assignment_id)
);
CREATE INDEX ticket_assignments_dept ON ticket_assignments (dept_code, ticket_id);

-- An Idempotency-Key belongs to the client that sent it; the ticket row commits after the key row.
ALTER TABLE idempotency_keys ADD COLUMN principal text NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (principal, key);
ALTER TABLE idempotency_keys ALTER CONSTRAINT idempotency_keys_ticket_id_fkey DEFERRABLE INITIALLY DEFERRED;

-- People and systems that use the API. Passwords are argon2 hashes; API keys are random and stored as SHA-256.
CREATE TABLE accounts (
    username      text PRIMARY KEY,
    display_name  text        NOT NULL,
    role          text        NOT NULL,
    dept_code     text,
    password_hash text,
    active        boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (role <> 'department' OR dept_code IS NOT NULL)
);

CREATE TABLE api_keys (
    key_hash   text PRIMARY KEY,
    username   text        NOT NULL REFERENCES accounts (username),
    label      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- Every read of full personal data (可用不可见: who saw what, when, why). Append-only.
CREATE TABLE access_log (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    subject   text        NOT NULL,
    role      text        NOT NULL,
    dept_code text,
    ticket_id text        NOT NULL,
    fields    text[]      NOT NULL,
    purpose   text        NOT NULL
);
CREATE INDEX access_log_ticket ON access_log (ticket_id, id);
CREATE INDEX access_log_subject ON access_log (subject, id);
