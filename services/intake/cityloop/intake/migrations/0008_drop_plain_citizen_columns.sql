-- Issue 11: personal data now lives only in ticket_vault (0007 sealed what was here).
ALTER TABLE ticket_citizens DROP COLUMN name, DROP COLUMN phone, DROP COLUMN id_number, DROP COLUMN address,
    DROP COLUMN email;
