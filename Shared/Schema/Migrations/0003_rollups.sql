-- One row per sensor and UTC minute with the count, sum, min and max of its readings. The Worker adds each reading
-- in the same transaction that stores it, and only when it was really new, so a redelivered reading is never
-- counted twice. Hours and days are derived from these rows at query time.
-- Rows are updated again and again while their minute fills: free space on each page lets PostgreSQL keep the
-- new row version on the same page without touching the index (a HOT update).
CREATE TABLE rollups_1m (
    sensor_id   text NOT NULL,
    bucket      timestamptz NOT NULL,
    count       bigint NOT NULL,
    sum         double precision NOT NULL,
    min         double precision NOT NULL,
    max         double precision NOT NULL,
    PRIMARY KEY (sensor_id, bucket)
) WITH (fillfactor = 70);

-- Readings stored before this migration get their rollups now. The lock holds off inserts until the backfill
-- commits, so none is missed; a Worker of the previous version still running afterwards would store readings
-- without rollups, so Workers are upgraded together.
LOCK TABLE readings IN SHARE MODE;
INSERT INTO rollups_1m (sensor_id, bucket, count, sum, min, max)
SELECT sensor_id, date_trunc('minute', ts, 'UTC'), count(*), sum(value), min(value), max(value)
FROM readings
GROUP BY 1, 2;
