-- Bot requests by reason over the range (classify.py: crawler, library, referrer spam, outdated
-- browser). Days counted before reasons were recorded have bot requests and no rows here: their
-- difference from the daily totals is `(not recorded)`.
SELECT reason, sum(requests) AS requests
FROM (
  SELECT reason, requests FROM bots
  WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
  UNION ALL
  SELECT '(not recorded)' AS reason,
         (SELECT coalesce(sum(bot_requests), 0) FROM daily
          WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end)
         - (SELECT coalesce(sum(requests), 0) FROM bots
            WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end) AS requests
) AS reasons
GROUP BY reason
HAVING sum(requests) > 0
ORDER BY requests DESC, reason;
