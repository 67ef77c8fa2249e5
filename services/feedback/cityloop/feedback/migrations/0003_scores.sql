-- 三率: one fact row per thing that counts, with its dimensions copied in (denormalised), and one
-- counter row per (level, key, mode, day) kept up to date in the same transaction as the facts.
-- A month's score is then a sum over at most 31 rows per item (scores/store.py).

-- What scoring knows about a ticket: where it is, its mode, and whether it is left out of every rate.
CREATE TABLE score_tickets (
    ticket_id  text PRIMARY KEY,
    district   text,
    street     text,
    grid       text,
    category   text,
    mode       text NOT NULL DEFAULT 'peacetime' CHECK (mode IN ('peacetime', 'emergency')),
    excluded   text CHECK (excluded IN ('consultation', 'handed_over', 'merged'))
);

-- The areas a department belongs to (router's dispatched detail ``dept_area``): who sees which score.
CREATE TABLE score_departments (
    dept_code  text PRIMARY KEY,
    district   text,
    street     text
);

-- 响应: one row per lead task that got an accept deadline from sla.
CREATE TABLE score_tasks (
    assignment_id  text PRIMARY KEY,
    ticket_id      text NOT NULL,
    dept_code      text NOT NULL,
    street         text,
    district       text,
    mode           text NOT NULL CHECK (mode IN ('peacetime', 'emergency')),
    day            date NOT NULL,
    accept_due_at  timestamptz,
    state          text NOT NULL CHECK (state IN ('pending', 'on_time', 'late', 'cancelled', 'excluded'))
);
CREATE INDEX score_tasks_dept ON score_tasks (dept_code, mode, day);
CREATE INDEX score_tasks_street ON score_tasks (street, mode, day);
CREATE INDEX score_tasks_district ON score_tasks (district, mode, day);
CREATE INDEX score_tasks_day ON score_tasks (mode, day);
CREATE INDEX score_tasks_ticket ON score_tasks (ticket_id);

-- 解决 and 满意: one row per completed callback (or one closed as unreachable).
CREATE TABLE score_callbacks (
    callback_id   text PRIMARY KEY,
    ticket_id     text NOT NULL,
    dept_code     text,
    street        text,
    district      text,
    mode          text NOT NULL CHECK (mode IN ('peacetime', 'emergency')),
    day           date NOT NULL,
    solved        boolean,
    satisfaction  text CHECK (satisfaction IN ('satisfied', 'basically_satisfied', 'unsatisfied')),
    excluded      text CHECK (excluded IN ('consultation', 'handed_over', 'merged', 'unreachable'))
);
CREATE INDEX score_callbacks_dept ON score_callbacks (dept_code, mode, day);
CREATE INDEX score_callbacks_street ON score_callbacks (street, mode, day);
CREATE INDEX score_callbacks_district ON score_callbacks (district, mode, day);
CREATE INDEX score_callbacks_day ON score_callbacks (mode, day);
CREATE INDEX score_callbacks_ticket ON score_callbacks (ticket_id);

-- The counters, per level (department, street, district, city), item, mode and day (the city's day).
-- Each column equals a count over the facts above (rules.Counts); week and month are sums of days.
CREATE TABLE score_days (
    level        text    NOT NULL CHECK (level IN ('department', 'street', 'district', 'city')),
    mode         text    NOT NULL CHECK (mode IN ('peacetime', 'emergency')),
    day          date    NOT NULL,
    key          text    NOT NULL,
    assigned     integer NOT NULL DEFAULT 0,
    responded    integer NOT NULL DEFAULT 0,
    pending      integer NOT NULL DEFAULT 0,
    callbacks    integer NOT NULL DEFAULT 0,
    solved       integer NOT NULL DEFAULT 0,
    satisfied    integer NOT NULL DEFAULT 0,
    basically    integer NOT NULL DEFAULT 0,
    unsatisfied  integer NOT NULL DEFAULT 0,
    unreachable  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (level, mode, day, key)
);
