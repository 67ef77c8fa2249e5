-- The city model and the full catalogue (loaded from data/ by seed.py), routing state for 退单, 并单,
-- the dispatcher queue, labelled examples and stored classifier models, and data corrections.

-- Master data --------------------------------------------------------------------------------------
ALTER TABLE districts ADD COLUMN short_name text;

CREATE TABLE streets (
    code      text PRIMARY KEY,
    name      text NOT NULL,
    district  text NOT NULL
);
CREATE TABLE communities (
    code    text PRIMARY KEY,
    name    text NOT NULL,
    street  text NOT NULL
);
CREATE INDEX communities_street ON communities (street);
CREATE TABLE grids (
    code       text PRIMARY KEY,
    community  text    NOT NULL,
    row        integer NOT NULL,
    col        integer NOT NULL,
    road       text    NOT NULL,
    num_lo     integer NOT NULL,
    num_hi     integer NOT NULL
);
CREATE INDEX grids_community ON grids (community);

ALTER TABLE departments ADD COLUMN street text;

ALTER TABLE categories
    ADD COLUMN parent        text,
    ADD COLUMN is_group      boolean NOT NULL DEFAULT false,
    ADD COLUMN assists       jsonb   NOT NULL DEFAULT '[]',
    ADD COLUMN urgency       text    NOT NULL DEFAULT 'normal',
    ADD COLUMN merge_metres  integer NOT NULL DEFAULT 0,
    ADD COLUMN merge_hours   integer NOT NULL DEFAULT 0,
    ADD COLUMN keywords      jsonb   NOT NULL DEFAULT '[]';
ALTER TABLE categories ALTER COLUMN dept_level DROP NOT NULL;

-- An approved correction "this address lies in that grid" (wins over the road index).
CREATE TABLE address_overrides (
    address_key    text PRIMARY KEY,
    grid           text   NOT NULL,
    correction_id  bigint NOT NULL
);

-- Which files are loaded, and a revision bumped by every change (in-memory copies reload on it).
CREATE TABLE master_meta (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    data_version  text    NOT NULL DEFAULT '',
    revision      bigint  NOT NULL DEFAULT 0
);
INSERT INTO master_meta DEFAULT VALUES;

-- Routing state --------------------------------------------------------------------------------------
ALTER TABLE tickets
    ADD COLUMN case_id         text,
    ADD COLUMN classification  jsonb,
    ADD COLUMN resolved        jsonb,
    ADD COLUMN decision        jsonb,
    ADD COLUMN queue_reason    text,
    ADD COLUMN queued_at       timestamptz,
    ADD COLUMN rejections      integer NOT NULL DEFAULT 0,
    ADD COLUMN updated_at      timestamptz NOT NULL DEFAULT now();
CREATE INDEX tickets_queue ON tickets (queued_at) WHERE status = 'needs_dispatcher';
CREATE INDEX tickets_case ON tickets (case_id);

-- 并单: one case per matter; the first ticket leads it, later ones join it.
CREATE TABLE cases (
    id           text PRIMARY KEY,
    category     text             NOT NULL,
    lead_ticket  text             NOT NULL,
    lat          double precision,
    lon          double precision,
    grid         text,
    opened_at    timestamptz      NOT NULL,
    status       text             NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed'))
);
CREATE INDEX cases_open ON cases (category, opened_at) WHERE status = 'open';

ALTER TABLE assignments
    ADD COLUMN final        boolean NOT NULL DEFAULT false,  -- set by arbitration: no further 退单
    ADD COLUMN withdrawn_reason text;

CREATE TABLE rejections (
    id              bigserial PRIMARY KEY,
    ticket_id       text        NOT NULL,
    assignment_id   text        NOT NULL,
    dept_code       text        NOT NULL,
    reason          text        NOT NULL,
    suggested_dept  text,
    outcome         text        NOT NULL,  -- redispatched, dispatcher, arbitration
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejections_ticket ON rejections (ticket_id);

-- The loop of data production and use --------------------------------------------------------------
CREATE TABLE training_examples (
    id          bigserial PRIMARY KEY,
    text        text        NOT NULL,
    category    text        NOT NULL,
    source      text        NOT NULL,  -- correction, confirmation, arbitration, rejection_upheld
    ticket_id   text,
    created_by  text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE classifier_models (
    id                 bigserial PRIMARY KEY,
    trained_at         timestamptz NOT NULL DEFAULT now(),
    seed_examples      integer     NOT NULL,
    labelled_examples  integer     NOT NULL,
    last_example_id    bigint      NOT NULL DEFAULT 0,
    trigger            text        NOT NULL,
    blob               bytea       NOT NULL
);

CREATE TABLE corrections (
    id              bigserial PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('address_grid', 'category_owner')),
    payload         jsonb       NOT NULL,
    reason          text        NOT NULL,
    submitted_by    text        NOT NULL,
    submitter_dept  text,
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    reviewed_by     text,
    review_note     text,
    before          jsonb,
    submitted_at    timestamptz NOT NULL DEFAULT now(),
    reviewed_at     timestamptz
);
CREATE INDEX corrections_status ON corrections (status, submitted_at);
