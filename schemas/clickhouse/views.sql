-- Analyst views, re-created by every `migrate`: their days and months are
-- local, in the configured time zone (`clickhouse.timezone`, `migrate
-- --timezone`; default Asia/Shanghai), so a Beijing day is one day. Stored
-- columns stay UTC. `{timezone}` is replaced when they are applied, and
-- `{mask:COLUMN}` by the masking of personal data in COLUMN (see
-- src/sink/clickhouse/migrate.rs).
--
-- Each view runs with its definer's rights (the user that ran `migrate`),
-- so the analyst role reads them without reading the tables behind them.
--
-- The aggregating views read with `do_not_merge_across_partitions_select_final`:
-- the duplicates of a row always share its partition (the month of a time
-- that never changes for that row: a complaint's receipt, an event's
-- occurrence, an SLA event's time), so FINAL need not merge across
-- partitions. At 1M complaints, `sla_compliance` for a month went from
-- 8.9 s to 1.3 s.
--
-- On a cluster every table is a Distributed one, sharded by
-- cityHash64(complaint_id). The two views that filter or join one table by
-- another (`sla_compliance`'s NOT IN, `causes`' join) read the second
-- table's local part on each shard (`distributed_product_mode = 'local'`):
-- both match on complaint_id, so whatever matches a row is on the row's
-- shard, and each shard's answer is complete. On one server the setting
-- does nothing.

-- Daily volume by channel, category and lead department (每日投诉量).
CREATE OR REPLACE VIEW complaints.daily_volume
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT
    toDate(received_at, '{timezone}') AS day,
    channel,
    category,
    lead_department,
    count() AS complaints,
    countIf(priority = 'urgent') AS urgent,
    countIf(status = 'withdrawn') AS withdrawn
FROM complaints.complaints FINAL
GROUP BY day, channel, category, lead_department
SETTINGS do_not_merge_across_partitions_select_final = 1;

-- SLA compliance per stage, lead department and priority, by the local day
-- a stage run was met or breached (时限达标率). A breach that late evidence
-- corrected (`retracted`) counts as no breach.
CREATE OR REPLACE VIEW complaints.sla_compliance
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT
    toDate(at, '{timezone}') AS day,
    stage,
    lead_department,
    priority,
    countIf(kind = 'met') AS met,
    countIf(kind = 'breached') AS breached,
    countIf(kind = 'late') AS late,
    if(met + breached = 0, NULL, round(100 * met / (met + breached), 1)) AS compliance_pct
FROM complaints.sla_events FINAL
WHERE kind IN ('met', 'late')
    OR (kind = 'breached' AND (complaint_id, cycle, stage) NOT IN (
        -- A set: a copy of a retraction changes nothing, so no FINAL here.
        SELECT complaint_id, cycle, stage FROM complaints.sla_events WHERE kind = 'retracted'))
GROUP BY day, stage, lead_department, priority
-- The filter may run before FINAL: an SLA event's copies are equal in
-- every column (the same input gives the same event), so it keeps all of
-- them or none.
SETTINGS do_not_merge_across_partitions_select_final = 1, optimize_move_to_prewhere_if_final = 1,
    distributed_product_mode = 'local';

-- Reopen rate, first-time satisfaction (一次满意率) and final satisfaction
-- (最终满意率) by local month received, category and lead department.
CREATE OR REPLACE VIEW complaints.reopen_satisfaction
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT
    toStartOfMonth(received_at, '{timezone}') AS month,
    category,
    lead_department,
    count() AS complaints,
    countIf(cycle > 0) AS reopened,
    countIf(satisfied IS NOT NULL) AS confirmed,
    countIf(satisfied = true AND cycle = 0) AS first_time_satisfied,
    countIf(satisfied = true) AS final_satisfied,
    if(complaints = 0, NULL, round(100 * reopened / complaints, 1)) AS reopen_pct,
    if(confirmed = 0, NULL, round(100 * first_time_satisfied / confirmed, 1)) AS first_time_satisfaction_pct,
    if(confirmed = 0, NULL, round(100 * final_satisfied / confirmed, 1)) AS final_satisfaction_pct
FROM complaints.complaints FINAL
GROUP BY month, category, lead_department
SETTINGS do_not_merge_across_partitions_select_final = 1;

-- Causes reported when handling ended, with the complaint's category, by
-- local day (投诉原因).
CREATE OR REPLACE VIEW complaints.causes
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT
    toDate(e.occurred_at, '{timezone}') AS day,
    c.category AS category,
    c.lead_department AS lead_department,
    e.cause AS cause,
    count() AS handled
FROM complaints.events AS e FINAL
INNER JOIN (SELECT complaint_id, category, lead_department FROM complaints.complaints FINAL) AS c
    ON c.complaint_id = e.complaint_id
WHERE e.type = 'complaint.handled' AND e.refused = 0
GROUP BY day, category, lead_department, cause
SETTINGS do_not_merge_across_partitions_select_final = 1, distributed_product_mode = 'local';

-- Input events for analysts (脱敏): in `payload` the customer object and any
-- `name`, `phone` or `email` field are masked, and in `payload` and `cause`
-- every e-mail address and Chinese mobile or landline number. One row per
-- event (`FINAL` inside; an event's copies share its month).
CREATE OR REPLACE VIEW complaints.events_masked
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT * REPLACE ({mask:payload} AS payload, {mask:cause} AS cause)
FROM complaints.events FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;

-- Dead letters for analysts, masked as `events_masked` (the reason may
-- quote a refused value), with the local day and time of each (`day`,
-- `at_local`) and the zone they are in (`zone`), as every other view
-- counts days. FINAL merges across months here: a redelivered refusal is
-- judged again, so its copies may fall in two months.
CREATE OR REPLACE VIEW complaints.dead_letters_masked
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT * REPLACE ({mask:payload} AS payload, {mask:reason} AS reason),
    toDate(at, '{timezone}') AS day,
    toTimeZone(at, '{timezone}') AS at_local,
    '{timezone}' AS zone
FROM complaints.dead_letters FINAL;

-- Where each complaint stands, for customer service (投诉进度): status,
-- departments, each stage's SLA outcome and its times in local time. No
-- personal data beyond the customer's id.
CREATE OR REPLACE VIEW complaints.complaint_progress
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT
    complaint_id, customer_id, channel, status, category, priority, lead_department, assist_departments,
    toTimeZone(received_at, '{timezone}') AS received_local,
    toTimeZone(acknowledged_at, '{timezone}') AS acknowledged_local,
    toTimeZone(assigned_at, '{timezone}') AS assigned_local,
    toTimeZone(handled_at, '{timezone}') AS handled_local,
    toTimeZone(reported_at, '{timezone}') AS reported_local,
    toTimeZone(confirmed_at, '{timezone}') AS confirmed_local,
    acknowledge_sla, assign_sla, respond_sla, handle_sla, report_sla, confirm_sla,
    cycle, satisfied, '{timezone}' AS zone
FROM complaints.complaints FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;

-- The at-risk list (即将超时): each open stage run past its warning (80 %
-- of its target) or already breached, with its deadline in local time and
-- the lead department, for customer service to check every morning. A run
-- ends with `met`, `late` or `cancelled` (also when the complaint closes or
-- is withdrawn). Runs of the last 90 days: a year's SLA events are not
-- grouped for it.
CREATE OR REPLACE VIEW complaints.at_risk
DEFINER = CURRENT_USER SQL SECURITY DEFINER AS
SELECT
    complaint_id, cycle, stage,
    argMax(lead_department, at) AS lead_department,
    argMax(priority, at) AS priority,
    toTimeZone(max(deadline), '{timezone}') AS deadline_local,
    toBool(countIf(kind = 'breached') > 0) AS breached,
    '{timezone}' AS zone
FROM complaints.sla_events FINAL
WHERE at >= now() - INTERVAL 90 DAY
GROUP BY complaint_id, cycle, stage
HAVING countIf(kind IN ('warning', 'breached')) > 0 AND countIf(kind IN ('met', 'late', 'cancelled')) = 0
SETTINGS do_not_merge_across_partitions_select_final = 1;
