-- The ticket shows every deadline sla set (cityloop.sla.deadlines_set), not only resolve-by.
ALTER TABLE tickets ADD COLUMN accept_by timestamptz, ADD COLUMN on_site_by timestamptz;
