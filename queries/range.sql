-- The default report range: the last 7 days that have data (the 7 most recent dates with rows),
-- and the first and last day with data (extent.sql's), in one read.
WITH dates AS (
  SELECT DISTINCT date FROM daily
  WHERE ($tenant IS NULL OR tenant = $tenant)
)
SELECT (SELECT min(date) FROM (SELECT date FROM dates ORDER BY date DESC LIMIT 7) AS recent) AS start,
       max(date) AS "end", min(date) AS first, max(date) AS last
FROM dates;
