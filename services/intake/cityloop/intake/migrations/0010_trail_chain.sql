-- The trail becomes tamper-evident (trail/chain.py): each entry carries its place in the ticket's chain
-- and sha256(previous entry's hash || canonical encoding of the entry). Entries written before this
-- migration keep hash NULL ("legacy"): they are numbered, and the chain starts after them.
ALTER TABLE ticket_timeline ADD COLUMN chain_index integer, ADD COLUMN hash bytea;
UPDATE ticket_timeline t SET chain_index = n.i
  FROM (SELECT seq, row_number() OVER (PARTITION BY ticket_id ORDER BY seq) - 1 AS i FROM ticket_timeline) n
 WHERE n.seq = t.seq;
ALTER TABLE ticket_timeline ALTER COLUMN chain_index SET NOT NULL;
ALTER TABLE ticket_timeline ADD CONSTRAINT ticket_timeline_chain UNIQUE (ticket_id, chain_index);

-- Each ticket's newest entry, kept under the ticket's row lock; anchored_index is the entry the last
-- anchor covered (NULL: never anchored).
CREATE TABLE trail_heads (
    ticket_id      text    PRIMARY KEY REFERENCES tickets (id),
    chain_index    integer NOT NULL,
    hash           bytea,
    anchored_index integer
);
INSERT INTO trail_heads (ticket_id, chain_index)
SELECT ticket_id, max(chain_index) FROM ticket_timeline GROUP BY ticket_id;

-- Anchors (trail/anchors.py): a chained digest over the heads that moved since the previous anchor, so a
-- ticket's chain cannot be cut short or rewritten from its start without the anchors disagreeing.
CREATE TABLE trail_anchors (
    id        bigserial   PRIMARY KEY,
    made_at   timestamptz NOT NULL DEFAULT now(),
    prev_hash bytea,
    hash      bytea       NOT NULL
);
CREATE TABLE trail_anchor_heads (
    anchor_id   bigint  NOT NULL REFERENCES trail_anchors (id),
    ticket_id   text    NOT NULL,
    chain_index integer NOT NULL,
    hash        bytea   NOT NULL,
    PRIMARY KEY (anchor_id, ticket_id)
);

-- Append-only, whoever connects (the service's role gets no UPDATE/DELETE on these tables either, see
-- libs/common/cityloop/common/db/roles.py): a rewrite needs the table owner to disable this trigger, and then
-- `make trail-verify` names the changed entry.
CREATE FUNCTION append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER ticket_timeline_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ticket_timeline
    FOR EACH STATEMENT EXECUTE FUNCTION append_only();
CREATE TRIGGER trail_anchors_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON trail_anchors
    FOR EACH STATEMENT EXECUTE FUNCTION append_only();
CREATE TRIGGER trail_anchor_heads_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON trail_anchor_heads
    FOR EACH STATEMENT EXECUTE FUNCTION append_only();
