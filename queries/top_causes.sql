-- Top causes (投诉原因) that departments reported when handling ended, with
-- the complaint's category (分类).
-- Parameters: from, to (Date, inclusive).
SELECT cause, category, sum(handled) AS times
FROM causes
WHERE day BETWEEN {from:Date} AND {to:Date}
GROUP BY cause, category
ORDER BY times DESC, cause
LIMIT 10
