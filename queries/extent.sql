-- The first and last day that hold data (for one tenant, or all): where a report's data is.
SELECT min(date) AS first, max(date) AS last
FROM daily
WHERE ($tenant IS NULL OR tenant = $tenant);
