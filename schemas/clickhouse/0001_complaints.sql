-- One row per complaint with its current outcome; the newest `version` wins.
-- Kept three years after archiving (or after the last change if never archived).
CREATE TABLE IF NOT EXISTS complaints.complaints
(
    complaint_id String,
    channel LowCardinality(String),
    customer_id String,
    status LowCardinality(String),
    category LowCardinality(String),
    priority LowCardinality(String),
    lead_department LowCardinality(String),
    assist_departments Array(LowCardinality(String)),
    coordination_required Bool,
    ruleset_version LowCardinality(String),
    received_at DateTime64(3, 'UTC'),
    acknowledged_at Nullable(DateTime64(3, 'UTC')),
    assigned_at Nullable(DateTime64(3, 'UTC')),
    handled_at Nullable(DateTime64(3, 'UTC')),
    reported_at Nullable(DateTime64(3, 'UTC')),
    confirmed_at Nullable(DateTime64(3, 'UTC')),
    archived_at Nullable(DateTime64(3, 'UTC')),
    withdrawn_at Nullable(DateTime64(3, 'UTC')),
    cycle UInt32,
    satisfied Nullable(Bool),
    acknowledge_sla LowCardinality(String),
    assign_sla LowCardinality(String),
    handle_sla LowCardinality(String),
    report_sla LowCardinality(String),
    confirm_sla LowCardinality(String),
    breaches UInt32,
    updated_at DateTime64(3, 'UTC'),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(received_at)
ORDER BY complaint_id
TTL toDateTime(coalesce(archived_at, updated_at)) + INTERVAL 3 YEAR;
