-- A breach that late evidence corrected (an SLA event of kind `retracted`
-- for the same complaint, cycle and stage) counts as no breach: the stage
-- run was met. No analyst figure counts a retracted breach.
CREATE OR REPLACE VIEW complaints.sla_compliance AS
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
WHERE kind IN ('met', 'late')
    OR (kind = 'breached' AND (complaint_id, cycle, stage) NOT IN (
        SELECT complaint_id, cycle, stage FROM complaints.sla_events FINAL WHERE kind = 'retracted'))
GROUP BY day, stage, lead_department, priority;
