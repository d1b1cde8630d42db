-- Every accepted event, decision, SLA event and dead letter, and the views of
-- the analysis meeting.
--
-- Retention: a row may go only three years after its complaint was archived
-- (or, never archived, after its last event). A row's own time cannot know
-- that, so each table's TTL asks the `retention` dictionary, built from the
-- `complaints` table, and falls back to the row's own time + 3 years, which
-- is never later than the complaint's (a complaint's last event is at or
-- after each of its rows). Rows of a complaint whose own row is gone are
-- therefore past their time too.
--
-- Idempotence: the sink sets `insert_deduplication_token` per insert (the
-- dedup window below keeps the tokens); the sort keys hold each row's
-- deterministic id, so ReplacingMergeTree folds what a token cannot catch
-- (a replay whose batches are cut differently). Read with FINAL, as the
-- views do.

ALTER TABLE complaints.complaints MODIFY SETTING non_replicated_deduplication_window = 1000;

-- A customer's progress query looks complaints up by customer.
ALTER TABLE complaints.complaints ADD INDEX IF NOT EXISTS customer_idx customer_id TYPE bloom_filter GRANULARITY 4;

CREATE DICTIONARY IF NOT EXISTS complaints.retention
(
    complaint_id String,
    keep_until DateTime
)
PRIMARY KEY complaint_id
SOURCE(CLICKHOUSE(QUERY 'SELECT complaint_id, max(toDateTime(coalesce(archived_at, updated_at))) + INTERVAL 3 YEAR AS keep_until FROM complaints.complaints GROUP BY complaint_id'))
LIFETIME(MIN 300 MAX 600)
LAYOUT(COMPLEX_KEY_HASHED());

-- Every input event that was valid JSON of the contract; `refused = 0` (read
-- with FINAL) are the accepted ones.
CREATE TABLE IF NOT EXISTS complaints.events
(
    event_id String,
    complaint_id String,
    type LowCardinality(String),
    occurred_at DateTime64(3, 'UTC'),
    actor String,
    channel LowCardinality(String),
    customer_id String,
    impact LowCardinality(String),
    lead_department LowCardinality(String),
    priority LowCardinality(String),
    progress_kind LowCardinality(String),
    extension_until Nullable(DateTime64(3, 'UTC')),
    approved Nullable(Bool),
    satisfied Nullable(Bool),
    cause String,
    source String,
    payload String CODEC(ZSTD(3)),
    -- 1: the lifecycle refused it (it is in dead_letters too). This row
    -- replaces the one the live loader stored from the input topic.
    refused UInt8,
    -- The causes view and per-type questions skip granules by type.
    INDEX type_idx type TYPE set(32) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(refused)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (complaint_id, event_id)
TTL greatest(toDateTime(occurred_at) + INTERVAL 3 YEAR,
             dictGetOrDefault('complaints.retention', 'keep_until', tuple(complaint_id), toDateTime(0)))
SETTINGS non_replicated_deduplication_window = 1000, allow_suspicious_ttl_expressions = 1;

CREATE TABLE IF NOT EXISTS complaints.decisions
(
    decision_id String,
    complaint_id String,
    cycle UInt32,
    category LowCardinality(String),
    priority LowCardinality(String),
    lead_department LowCardinality(String),
    assist_departments Array(LowCardinality(String)),
    coordination_required Bool,
    reason String,
    ruleset_version LowCardinality(String),
    decided_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(decided_at)
ORDER BY (category, priority, lead_department, decision_id)
TTL greatest(toDateTime(decided_at) + INTERVAL 3 YEAR,
             dictGetOrDefault('complaints.retention', 'keep_until', tuple(complaint_id), toDateTime(0)))
SETTINGS non_replicated_deduplication_window = 1000, allow_suspicious_ttl_expressions = 1;

CREATE TABLE IF NOT EXISTS complaints.sla_events
(
    event_id String,
    complaint_id String,
    stage LowCardinality(String),
    cycle UInt32,
    kind LowCardinality(String),
    deadline DateTime64(3, 'UTC'),
    at DateTime64(3, 'UTC'),
    priority LowCardinality(String),
    lead_department LowCardinality(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (stage, kind, lead_department, event_id)
TTL greatest(toDateTime(at) + INTERVAL 3 YEAR,
             dictGetOrDefault('complaints.retention', 'keep_until', tuple(complaint_id), toDateTime(0)))
SETTINGS non_replicated_deduplication_window = 1000, allow_suspicious_ttl_expressions = 1;

CREATE TABLE IF NOT EXISTS complaints.dead_letters
(
    source String,
    reason_code LowCardinality(String),
    reason String,
    complaint_id String,
    event_id String,
    at DateTime64(3, 'UTC'),
    payload String CODEC(ZSTD(3))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (reason_code, source)
TTL greatest(toDateTime(at) + INTERVAL 3 YEAR,
             dictGetOrDefault('complaints.retention', 'keep_until', tuple(complaint_id), toDateTime(0)))
SETTINGS non_replicated_deduplication_window = 1000, allow_suspicious_ttl_expressions = 1;

-- Daily volume by channel, category and lead department (每日投诉量).
CREATE VIEW IF NOT EXISTS complaints.daily_volume AS
SELECT
    toDate(received_at) AS day,
    channel,
    category,
    lead_department,
    count() AS complaints,
    countIf(priority = 'urgent') AS urgent,
    countIf(status = 'withdrawn') AS withdrawn
FROM complaints.complaints FINAL
GROUP BY day, channel, category, lead_department;

-- SLA compliance per stage, lead department and priority, by the day a stage
-- run was met or breached: compliant when met, non-compliant once breached
-- (时限达标率).
CREATE VIEW IF NOT EXISTS complaints.sla_compliance AS
SELECT
    toDate(at) AS day,
    stage,
    lead_department,
    priority,
    countIf(kind = 'met') AS met,
    countIf(kind = 'breached') AS breached,
    countIf(kind = 'late') AS late,
    if(met + breached = 0, NULL, round(100 * met / (met + breached), 1)) AS compliance_pct
FROM complaints.sla_events FINAL
WHERE kind IN ('met', 'breached', 'late')
GROUP BY day, stage, lead_department, priority;

-- Reopen and satisfaction rates by month received, category and lead
-- department (重复投诉率 / 满意率).
CREATE VIEW IF NOT EXISTS complaints.reopen_satisfaction AS
SELECT
    toStartOfMonth(received_at) AS month,
    category,
    lead_department,
    count() AS complaints,
    countIf(cycle > 0) AS reopened,
    countIf(satisfied IS NOT NULL) AS confirmed,
    countIf(satisfied = true) AS satisfied_count,
    if(complaints = 0, NULL, round(100 * reopened / complaints, 1)) AS reopen_pct,
    if(confirmed = 0, NULL, round(100 * satisfied_count / confirmed, 1)) AS satisfaction_pct
FROM complaints.complaints FINAL
GROUP BY month, category, lead_department;

-- Causes reported when handling ended, with the complaint's category
-- (投诉原因).
CREATE VIEW IF NOT EXISTS complaints.causes AS
SELECT
    toDate(e.occurred_at) AS day,
    c.category AS category,
    c.lead_department AS lead_department,
    e.cause AS cause,
    count() AS handled
FROM complaints.events AS e FINAL
INNER JOIN (SELECT complaint_id, category, lead_department FROM complaints.complaints FINAL) AS c
    ON c.complaint_id = e.complaint_id
WHERE e.type = 'complaint.handled' AND e.refused = 0
GROUP BY day, category, lead_department, cause;
