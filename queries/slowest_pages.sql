-- The slowest paths of the range (count/times.py's `path_times`, a day's busiest paths): those
-- with 5 requests or more, by the bucket of their 95th percentile, then their median's; the
-- buckets of the nearest-rank median and 95th percentile and the highest bucket, per path.
WITH per_bucket AS (
  SELECT path, bucket, sum(requests) AS requests, sum(total_us) AS total_us
  FROM path_times
  WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end AND path <> '(other)'
  GROUP BY path, bucket
), running AS (
  SELECT path, bucket, requests, total_us,
         sum(requests) OVER (PARTITION BY path ORDER BY bucket) AS seen,
         sum(requests) OVER (PARTITION BY path) AS total
  FROM per_bucket
)
SELECT path, max(total) AS count, sum(total_us) AS total_us,
       CAST(min(bucket) FILTER (WHERE 2 * seen >= total) AS INTEGER) AS p50_bucket,
       CAST(min(bucket) FILTER (WHERE 100 * seen >= 95 * total) AS INTEGER) AS p95_bucket,
       CAST(max(bucket) AS INTEGER) AS max_bucket
FROM running
GROUP BY path
HAVING max(total) >= 5
ORDER BY p95_bucket DESC, p50_bucket DESC, count DESC, path
LIMIT $limit;
