-- SLA compliance per stage (时限达标率): of the stage runs met or breached on
-- a day of the period, how many were met (达标) and how many breached (超时);
-- `late` are the breached ones that finished after all.
-- Stages: acknowledge 受理, assign 分配, respond 首次响应 (important and
-- urgent complaints' first answer), handle 处理完成, report 结果反馈,
-- confirm 回访.
-- Parameters: from, to (Date, inclusive).
SELECT
    stage,
    sum(met) AS met_runs,
    sum(breached) AS breached_runs,
    sum(late) AS late_runs,
    if(met_runs + breached_runs = 0, NULL, round(100 * met_runs / (met_runs + breached_runs), 1)) AS compliance_pct
FROM sla_compliance
WHERE day BETWEEN {from:Date} AND {to:Date}
GROUP BY stage
ORDER BY indexOf(['acknowledge', 'assign', 'respond', 'handle', 'report', 'confirm'], stage)
