-- Refused input (死信) by reason: what channel adapters should fix.
-- Parameters: from, to (Date, inclusive).
SELECT reason_code, count() AS letters, min(at) AS first_at, max(at) AS last_at
FROM dead_letters_masked
WHERE toDate(at) BETWEEN {from:Date} AND {to:Date}
GROUP BY reason_code
ORDER BY letters DESC, reason_code
