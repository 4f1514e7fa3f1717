CREATE TABLE sensors (
    id          text PRIMARY KEY,
    site        text NOT NULL,
    kind        text NOT NULL,
    unit        text NOT NULL,
    rule        jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per (sensor, device timestamp): a re-sent reading is a no-op, which makes the Worker's
-- at-least-once consumption an exactly-once store.
CREATE TABLE readings (
    sensor_id   text NOT NULL,
    ts          timestamptz NOT NULL,
    value       double precision NOT NULL,
    PRIMARY KEY (sensor_id, ts)
);

CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    hash        text NOT NULL UNIQUE,
    scopes      text[] NOT NULL,
    site        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
