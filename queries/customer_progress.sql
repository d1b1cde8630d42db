-- A customer's complaints and where each stands (投诉进度查询): status, lead
-- department and each stage's outcome, newest first.
-- Parameters: customer_id (String).
SELECT
    complaint_id, status, category, priority, lead_department, received_at,
    acknowledge_sla, respond_sla, handle_sla, confirm_sla, cycle, satisfied
FROM complaints FINAL
WHERE customer_id = {customer_id:String}
ORDER BY received_at DESC
