-- Issue 11: the personal-data vault. One row per ticket: the citizen's data and the full text of redacted
-- free text, sealed with AES-256-GCM under a per-row data key wrapped by the key-encryption key `key_id`
-- (vault/sealing.py); beside it only what opens nothing: masked forms, a keyed hash of the phone (blind
-- index for repeat callers) and an opaque contact reference. Erased (retention.py): sealed data gone.
CREATE TABLE ticket_vault (
    ticket_id   text PRIMARY KEY REFERENCES tickets (id),
    key_id      text,
    wrapped_key bytea,
    sealed      bytea,
    phone_index bytea,
    contact_ref text        NOT NULL,
    masked      jsonb       NOT NULL DEFAULT '{}',
    sealed_at   timestamptz NOT NULL DEFAULT now(),
    erased_at   timestamptz,
    CHECK ((erased_at IS NULL) = (sealed IS NOT NULL AND key_id IS NOT NULL AND wrapped_key IS NOT NULL))
);
CREATE INDEX ticket_vault_phone ON ticket_vault (phone_index) WHERE phone_index IS NOT NULL;
CREATE INDEX ticket_vault_key ON ticket_vault (key_id) WHERE erased_at IS NULL;
CREATE INDEX ticket_vault_contact ON ticket_vault (contact_ref);
-- Tickets from before the vault: sealed now, their descriptions redacted (needs the vault keys).
-- run: cityloop.intake.vault.migration:seal_plain_citizens
