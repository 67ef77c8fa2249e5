-- Open311 GeoReport v2: clients (api_key), the services offered (categories) with typed attributes,
-- and the token of every request made through it.

CREATE TABLE open311_clients (
    key_hash   text PRIMARY KEY,
    name       text        NOT NULL,
    active     boolean     NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Categories offered to civic apps. Router owns the dispatch catalogue; this is the public face of the
-- categories citizens may report directly (emergencies such as fire are not offered: call 119).
CREATE TABLE open311_services (
    service_code text PRIMARY KEY,
    service_name text    NOT NULL,
    description  text    NOT NULL,
    group_name   text    NOT NULL,
    keywords     text    NOT NULL DEFAULT '',
    -- realtime: POST answers with service_request_id; batch: with a token (requests reviewed first).
    type         text    NOT NULL DEFAULT 'realtime' CHECK (type IN ('realtime', 'batch', 'blackbox')),
    sort         integer NOT NULL DEFAULT 0
);

CREATE TABLE open311_attributes (
    service_code         text    NOT NULL REFERENCES open311_services (service_code),
    code                 text    NOT NULL,
    variable             boolean NOT NULL DEFAULT true,
    datatype             text    NOT NULL
        CHECK (datatype IN ('string', 'number', 'datetime', 'text', 'singlevaluelist', 'multivaluelist')),
    required             boolean NOT NULL DEFAULT false,
    datatype_description text,
    ord                  integer NOT NULL,
    description          text    NOT NULL,
    "values"             jsonb   NOT NULL DEFAULT '[]',   -- [{"key": ..., "name": ...}] for the list types
    PRIMARY KEY (service_code, code),
    UNIQUE (service_code, ord)
);

CREATE TABLE open311_requests (
    token      text PRIMARY KEY,
    ticket_id  text        NOT NULL UNIQUE REFERENCES tickets (id),
    client     text        NOT NULL,
    account_id text,
    device_id  text,
    created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO open311_services (service_code, service_name, description, group_name, keywords, type, sort) VALUES
    ('sanitation.garbage', '垃圾清运', '生活垃圾、建筑垃圾未及时清运', 'sanitation', '垃圾,清运,环卫', 'realtime', 1),
    ('transport.pothole', '道路坑洼', '道路、人行道路面破损或坑洼', 'street', '道路,坑洼,路面', 'realtime', 2),
    ('water.outage', '停水', '居民小区或街面停水、水压不足', 'water', '停水,供水,水压', 'batch', 3);

INSERT INTO open311_attributes
    (service_code, code, variable, datatype, required, datatype_description, ord, description, "values") VALUES
    ('sanitation.garbage', 'kind', true, 'multivaluelist', false, NULL, 1, '垃圾种类',
        '[{"key": "household", "name": "生活垃圾"}, {"key": "construction", "name": "建筑垃圾"},
          {"key": "bulky", "name": "大件垃圾"}]'),
    ('transport.pothole', 'size', true, 'singlevaluelist', true, NULL, 1, '坑洼大小',
        '[{"key": "small", "name": "小于30厘米"}, {"key": "medium", "name": "30至100厘米"},
          {"key": "large", "name": "大于100厘米"}]'),
    ('transport.pothole', 'depth_cm', true, 'number', false, '深度，单位厘米', 2, '坑洼深度', '[]'),
    ('transport.pothole', 'lane', true, 'string', false, NULL, 3, '所在车道或路段', '[]'),
    ('water.outage', 'since', true, 'datetime', true, 'ISO 8601，含时区，例如 2026-11-22T08:00:00+08:00', 1,
        '停水开始时间', '[]'),
    ('water.outage', 'households', true, 'number', false, '受影响户数（估计）', 2, '受影响户数', '[]'),
    ('water.outage', 'notes', true, 'text', false, NULL, 3, '补充说明', '[]'),
    ('water.outage', 'notice', false, 'string', false, NULL, 4, '计划停水请先查询供水公司公告', '[]');
