-- The versions of the definitions that counted the range's requests (core/definitions.py): per
-- version, its first and last day, its tenant-days and requests. A day's requests that no
-- `definitions` row accounts for were counted before the record existed, by version 1.
WITH days AS (
  SELECT tenant, date, requests FROM daily
  WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
), recorded AS (
  SELECT tenant, date, version, sum(requests) AS requests FROM definitions
  WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
  GROUP BY tenant, date, version
), counted AS (
  SELECT tenant, date, version, requests FROM recorded
  UNION ALL
  SELECT d.tenant, d.date, 1 AS version, d.requests - coalesce(r.requests, 0) AS requests
  FROM days AS d
  LEFT JOIN (SELECT tenant, date, sum(requests) AS requests FROM recorded GROUP BY tenant, date) AS r
    USING (tenant, date)
  WHERE d.requests > coalesce(r.requests, 0)
)
SELECT CAST(version AS INTEGER) AS version, CAST(min(date) AS VARCHAR) AS first,
       CAST(max(date) AS VARCHAR) AS last, count(DISTINCT (tenant, date)) AS tenant_days,
       sum(requests) AS requests
FROM counted
GROUP BY version
ORDER BY version;
