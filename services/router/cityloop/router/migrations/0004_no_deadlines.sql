-- sla owns every deadline (services/sla/README.md): router no longer computes or stores any.
ALTER TABLE assignments DROP COLUMN accept_by, DROP COLUMN resolve_by;
