-- The default report range: the last 7 days that have data (the 7 most recent dates with rows).
SELECT min(date) AS start, max(date) AS "end"
FROM (
  SELECT DISTINCT date FROM daily
  WHERE ($tenant IS NULL OR tenant = $tenant)
  ORDER BY date DESC
  LIMIT 7
) AS recent;
