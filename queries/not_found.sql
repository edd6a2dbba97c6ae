-- Paths answered 404, by requests, with how many came from bots. `(other)` collects the paths
-- past a tenant-day's row limit (README, Browsers, OS, devices, countries, not found).
SELECT path, sum(requests) AS requests, sum(bot_requests) AS bot_requests
FROM not_found
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY path
ORDER BY requests DESC, path
LIMIT $limit;
