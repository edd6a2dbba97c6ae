-- Response times per hour of the day (the tenant's local hour) over the range: each hour's buckets.
SELECT CAST(hour AS INTEGER) AS hour, CAST(bucket AS INTEGER) AS bucket, sum(requests) AS requests,
       sum(total_us) AS total_us
FROM times
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY hour, bucket
ORDER BY hour, bucket;
