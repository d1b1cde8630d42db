-- SLA compliance per lead department (牵头部门) and priority (优先级:
-- general 一般, important 重要, urgent 紧急), all stages together.
-- Parameters: from, to (Date, inclusive).
SELECT
    lead_department,
    priority,
    sum(met) AS met_runs,
    sum(breached) AS breached_runs,
    if(met_runs + breached_runs = 0, NULL, round(100 * met_runs / (met_runs + breached_runs), 1)) AS compliance_pct
FROM sla_compliance
WHERE day BETWEEN {from:Date} AND {to:Date}
GROUP BY lead_department, priority
ORDER BY lead_department, indexOf(['general', 'important', 'urgent'], priority)
