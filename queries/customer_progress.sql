-- A customer's complaints and where each stands (投诉进度查询): status, lead
-- department, each stage's SLA outcome (受理 acknowledge, 分配 assign,
-- 首次响应 respond, 处理 handle, 结果反馈 report, 回访 confirm), newest first.
-- Times are local, in the configured zone (`zone`).
-- Parameters: customer_id (String).
SELECT
    complaint_id, status, category, priority, lead_department, received_local,
    acknowledge_sla, assign_sla, respond_sla, handle_sla, report_sla, confirm_sla,
    cycle, satisfied, zone
FROM complaint_progress
WHERE customer_id = {customer_id:String}
ORDER BY received_local DESC
