-- A customer's complaints and where each stands (投诉进度查询): status, lead
-- department and each stage's outcome, newest first.
-- Times are shown in time zone `tz` (e.g. Asia/Shanghai).
-- Parameters: customer_id (String), tz (String).
SELECT
    complaint_id, status, category, priority, lead_department,
    toTimeZone(received_at, {tz:String}) AS received_local,
    acknowledge_sla, respond_sla, handle_sla, confirm_sla, cycle, satisfied
FROM complaints FINAL
WHERE customer_id = {customer_id:String}
ORDER BY received_local DESC
-- A complaint's versions share its month: FINAL need not merge across months.
SETTINGS do_not_merge_across_partitions_select_final = 1
