-- Volume by channel (渠道) over a period, with each channel's share.
-- Parameters: from, to (Date, inclusive).
SELECT
    channel,
    sum(complaints) AS received,
    round(100 * received / sum(received) OVER (), 1) AS share_pct
FROM daily_volume
WHERE day BETWEEN {from:Date} AND {to:Date}
GROUP BY channel
ORDER BY received DESC, channel
