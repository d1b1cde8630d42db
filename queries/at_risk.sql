-- The at-risk list (即将超时清单): open complaints whose running stage is past
-- its warning or already breached, by lead department, the nearest
-- deadline first, in local time (`zone`). For the customer service
-- department every morning. No parameters.
SELECT lead_department, complaint_id, stage, priority, deadline_local, breached, zone
FROM at_risk
ORDER BY lead_department, deadline_local, complaint_id
