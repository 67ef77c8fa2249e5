-- A minimal catalogue so the loop runs end to end; the full city model replaces it.
INSERT INTO districts (code, name) VALUES ('pd', '浦东新区'), ('hp', '黄浦区');

INSERT INTO departments (code, name, type, level, district) VALUES
    ('pd-sanitation', '浦东新区绿化和市容管理局', 'sanitation', 'district', 'pd'),
    ('hp-sanitation', '黄浦区绿化和市容管理局', 'sanitation', 'district', 'hp'),
    ('pd-transport', '浦东新区建设和交通委员会', 'transport', 'district', 'pd'),
    ('hp-transport', '黄浦区建设管理委员会', 'transport', 'district', 'hp'),
    ('city-water', '市水务局', 'water', 'city', NULL);

INSERT INTO categories (code, name, dept_type, dept_level, handover_to, accept_days, resolve_days) VALUES
    ('sanitation.garbage', '垃圾清运', 'sanitation', 'district', NULL, 1, 5),
    ('transport.pothole', '道路坑洼', 'transport', 'district', NULL, 1, 5),
    ('water.outage', '停水', 'water', 'city', NULL, 1, 3),
    ('emergency.fire', '火情', NULL, 'city', '119', 0, 0);
