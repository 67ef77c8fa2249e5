-- 五级应用: an assignment to a street's platform may be for one of its residents' committees or grid teams.
-- The unit as the task named it (contract TaskUnit); NULL for every other department.
ALTER TABLE assignments ADD COLUMN unit jsonb;
