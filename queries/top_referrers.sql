-- Referrer sources by visits (sessions whose first page view came from them).
SELECT source, sum(visits) AS visits
FROM referrers
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY source
ORDER BY visits DESC, source
LIMIT $limit;
