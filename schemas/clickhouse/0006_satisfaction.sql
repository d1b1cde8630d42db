-- One name per figure. Of complaints with at least one confirmation:
-- first-time satisfaction (一次满意率) counts those satisfied at their first
-- confirmation (never reopened), final satisfaction (最终满意率) those whose
-- latest confirmation was satisfied.
CREATE OR REPLACE VIEW complaints.reopen_satisfaction AS
SELECT
    toStartOfMonth(received_at) AS month,
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
GROUP BY month, category, lead_department;
