-- Reopen rate (重复处理率: complaints the customer was not satisfied with at
-- least once) and satisfaction rate (满意率: of complaints with a
-- confirmation, those whose latest answer was satisfied), per category
-- (分类), for complaints received in the months of the period.
-- Parameters: from, to (Date, inclusive).
SELECT
    category,
    sum(complaints) AS received,
    sum(reopened) AS reopened_n,
    sum(confirmed) AS confirmed_n,
    sum(satisfied_count) AS satisfied_n,
    if(received = 0, NULL, round(100 * reopened_n / received, 1)) AS reopen_pct,
    if(confirmed_n = 0, NULL, round(100 * satisfied_n / confirmed_n, 1)) AS satisfaction_pct
FROM reopen_satisfaction
WHERE month BETWEEN toStartOfMonth({from:Date}) AND toStartOfMonth({to:Date})
GROUP BY category WITH ROLLUP
ORDER BY category = '', category
