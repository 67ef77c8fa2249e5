-- 并单 looks for open cases of a category near a point (cases/store.py open_cases): a latitude range on this
-- index, instead of every open case of the category in the merge window (cases_open).
CREATE INDEX cases_open_near ON cases (category, lat) WHERE status = 'open';
