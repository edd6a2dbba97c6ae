-- Requests per HTTP status over the range; a request without a status (stored as 0) is `-`.
SELECT CASE WHEN status = 0 THEN '-' ELSE CAST(status AS VARCHAR) END AS status,
       sum(requests) AS requests
FROM status
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY status
ORDER BY status;
