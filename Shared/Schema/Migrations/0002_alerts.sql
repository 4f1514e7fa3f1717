-- An alert is opened when a reading breaches its sensor's rule and closed by the first reading that has recovered
-- (past the hysteresis band). At most one alert per sensor and condition is open at a time.
CREATE TABLE alerts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sensor_id        text NOT NULL REFERENCES sensors (id),
    site             text NOT NULL,
    condition        text NOT NULL CHECK (condition IN ('high', 'low', 'rate')),
    severity         text NOT NULL CHECK (severity IN ('warning', 'critical')),
    threshold        double precision NOT NULL,
    opened_at        timestamptz NOT NULL,
    opened_value     double precision NOT NULL,
    closed_at        timestamptz,
    closed_value     double precision,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    CHECK ((closed_at IS NULL) = (closed_value IS NULL)),
    CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL))
);

CREATE UNIQUE INDEX alerts_one_open_per_condition ON alerts (sensor_id, condition) WHERE closed_at IS NULL;
CREATE INDEX alerts_open_by_site ON alerts (site, id) WHERE closed_at IS NULL;
CREATE INDEX alerts_by_site ON alerts (site, id);
CREATE INDEX alerts_by_sensor ON alerts (sensor_id, id);

-- How far each sensor's readings have been evaluated: a reading at or before evaluated_through (redelivered,
-- duplicated, or late) never opens or closes an alert again. last_value is that reading's, for the rate of change.
CREATE TABLE alert_evaluations (
    sensor_id          text PRIMARY KEY REFERENCES sensors (id),
    evaluated_through  timestamptz,
    last_value         double precision
);

-- Every transition (opened, acknowledged, closed), written in the transaction that makes it: the outbox the Worker
-- produces to kiln.alerts from, in id order. produced_offset is where the transition landed in kiln.alerts.
CREATE TABLE alert_transitions (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id         bigint NOT NULL REFERENCES alerts (id),
    transition       text NOT NULL CHECK (transition IN ('opened', 'acknowledged', 'closed')),
    at               timestamptz NOT NULL,
    value            double precision,
    by               text,
    produced_offset  bigint
);

CREATE INDEX alert_transitions_to_produce ON alert_transitions (id) WHERE produced_offset IS NULL;
