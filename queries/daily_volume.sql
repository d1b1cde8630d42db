-- Daily volume (每日投诉量): complaints received per day by channel (渠道),
-- category (分类) and lead department (牵头部门), with the urgent (紧急) and
-- withdrawn ones among them.
-- Parameters: from, to (Date, inclusive).
SELECT day, channel, category, lead_department, complaints, urgent, withdrawn
FROM daily_volume
WHERE day BETWEEN {from:Date} AND {to:Date}
ORDER BY day, channel, category, lead_department
