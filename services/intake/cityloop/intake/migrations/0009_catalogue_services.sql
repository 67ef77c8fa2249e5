-- Open311's services come from router's catalogue, as events on catalogue.services (compacted): no copy
-- of router's table any more. The hand-made rows of 0003_open311.sql go; every category the catalogue
-- offers arrives with its group, keywords, description and typed attributes, and the version offering it.
ALTER TABLE open311_services ADD COLUMN catalogue_version text;
DELETE FROM open311_attributes;
DELETE FROM open311_services;
