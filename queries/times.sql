-- Response times over the range (count/times.py): requests and their summed time per log-spaced
-- bucket, all hours and tenant-days added up (report: count, mean, percentiles within 2%).
SELECT CAST(bucket AS INTEGER) AS bucket, sum(requests) AS requests, sum(total_us) AS total_us
FROM times
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY bucket
ORDER BY bucket;
