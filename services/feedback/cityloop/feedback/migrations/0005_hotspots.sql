-- Hot spots, fed by feedback's stream worker (signals/) through the compacted feedback.hotspots topic:
-- the latest count per key (level, area, category) and bucket (an hour, or a local calendar day).
CREATE TABLE hotspot_keys (
    level       text        NOT NULL CHECK (level IN ('district', 'street', 'grid')),
    area        text        NOT NULL,
    category    text        NOT NULL,
    district    text        NOT NULL,
    -- when the worker took the snapshot: an older one arriving late is ignored
    snapshot_at timestamptz NOT NULL,
    PRIMARY KEY (level, area, category)
);

CREATE TABLE hotspot_counts (
    level        text        NOT NULL,
    area         text        NOT NULL,
    category     text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('hour', 'day')),
    bucket_start timestamptz NOT NULL,
    count        integer     NOT NULL CHECK (count > 0),
    PRIMARY KEY (level, area, category, kind, bucket_start),
    FOREIGN KEY (level, area, category) REFERENCES hotspot_keys ON DELETE CASCADE
);
CREATE INDEX hotspot_counts_window ON hotspot_counts (level, kind, bucket_start);
