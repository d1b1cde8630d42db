-- Reopen rate (重复处理率: complaints the customer was not satisfied with at
-- least once), first-time satisfaction (一次满意率: of complaints with a
-- confirmation, those satisfied at the first one) and final satisfaction
-- (最终满意率: those whose latest confirmation was satisfied), per category
-- (分类), for complaints received in the months of the period.
-- Parameters: from, to (Date, inclusive).
SELECT
    category,
    sum(complaints) AS received,
    sum(reopened) AS reopened_n,
    sum(confirmed) AS confirmed_n,
    sum(first_time_satisfied) AS first_time_n,
    sum(final_satisfied) AS final_n,
    if(received = 0, NULL, round(100 * reopened_n / received, 1)) AS reopen_pct,
    if(confirmed_n = 0, NULL, round(100 * first_time_n / confirmed_n, 1)) AS first_time_satisfaction_pct,
    if(confirmed_n = 0, NULL, round(100 * final_n / confirmed_n, 1)) AS final_satisfaction_pct
FROM reopen_satisfaction
WHERE month BETWEEN toStartOfMonth({from:Date}) AND toStartOfMonth({to:Date})
GROUP BY category WITH ROLLUP
ORDER BY category = '', category
