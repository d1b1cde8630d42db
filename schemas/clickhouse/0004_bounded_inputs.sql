-- A dead letter whose payload was longer than 64 KiB keeps the first 64 KiB;
-- these name the original: its size in bytes and its SHA-256 (hex). Both
-- are 0 / empty when the payload is whole.
ALTER TABLE complaints.dead_letters ADD COLUMN IF NOT EXISTS payload_bytes UInt64 DEFAULT 0 AFTER payload;
ALTER TABLE complaints.dead_letters ADD COLUMN IF NOT EXISTS payload_sha256 String DEFAULT '' AFTER payload_bytes;

-- Times stay inside the range the three-year retention and the monthly
-- partitions are made for. complaintflow refuses other times where they
-- enter (earliest_event_time, max_clock_skew); these are the last guard.
-- A row that breaks one is refused by ClickHouse and lands in
-- rejected_rows; the rest of its batch is stored.
ALTER TABLE complaints.complaints ADD CONSTRAINT IF NOT EXISTS received_in_range CHECK received_at >= '1970-01-01' AND received_at < '2200-01-01';
ALTER TABLE complaints.events ADD CONSTRAINT IF NOT EXISTS occurred_in_range CHECK occurred_at >= '1970-01-01' AND occurred_at < '2200-01-01';
ALTER TABLE complaints.decisions ADD CONSTRAINT IF NOT EXISTS decided_in_range CHECK decided_at >= '1970-01-01' AND decided_at < '2200-01-01';
ALTER TABLE complaints.sla_events ADD CONSTRAINT IF NOT EXISTS at_in_range CHECK at >= '1970-01-01' AND at < '2200-01-01';
ALTER TABLE complaints.dead_letters ADD CONSTRAINT IF NOT EXISTS at_in_range CHECK at >= '1970-01-01' AND at < '2200-01-01';

-- Rows ClickHouse refused for their content (a broken constraint, a value
-- out of range), with the server's reason: the loader stores the rest of
-- their batch and keeps going. Empty in normal operation.
CREATE TABLE IF NOT EXISTS complaints.rejected_rows
(
    table LowCardinality(String),
    row String CODEC(ZSTD(3)),
    reason String,
    complaint_id String MATERIALIZED JSONExtractString(row, 'complaint_id'),
    at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (table, at)
TTL toDateTime(at) + INTERVAL 3 YEAR
SETTINGS non_replicated_deduplication_window = 1000;
