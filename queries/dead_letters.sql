-- Refused input (死信) by reason: what channel adapters should fix. Days
-- and times are local, in the zone the views were made for (`zone`, the
-- configured `clickhouse.timezone`), as in every other query and the report.
-- Parameters: from, to (Date, inclusive).
SELECT reason_code, count() AS letters, min(at_local) AS first_at, max(at_local) AS last_at, any(zone) AS zone
FROM dead_letters_masked
WHERE day BETWEEN {from:Date} AND {to:Date}
GROUP BY reason_code
ORDER BY letters DESC, reason_code
