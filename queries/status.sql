-- Requests per HTTP status over the range.
SELECT CAST(status AS VARCHAR) AS status, sum(requests) AS requests
FROM status
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY status
ORDER BY status;
