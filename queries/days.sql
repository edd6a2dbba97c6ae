-- One row per day of the range, days without data included as zeros. Zero days are listed only
-- between the first and last day the state dir holds data for (any tenant), so a range reaching
-- far past the history (`--start 1900-01-01`) stays as small as the history itself.
-- Portable SQL: the same text runs in DuckDB and in PostgreSQL (readpath.py; docs/warehouse.md).
WITH extent AS (
  SELECT greatest(CAST($start AS DATE), min(date)) AS lo, least(CAST($end AS DATE), max(date)) AS hi
  FROM daily
  HAVING count(*) > 0
), span AS (
  SELECT CAST(d AS DATE) AS date
  FROM extent, generate_series(extent.lo, extent.hi, INTERVAL '1 day') AS t(d)
  WHERE extent.lo <= extent.hi
), sums AS (
  SELECT date, sum(requests) AS requests, sum(page_views) AS page_views,
         sum(unique_visitors) AS unique_visitors, sum(bytes) AS bytes,
         sum(sessions) AS sessions, sum(bounces) AS bounces, sum(duration_total) AS duration_total
  FROM daily
  WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
  GROUP BY date
)
SELECT CAST(span.date AS VARCHAR) AS date,
       coalesce(requests, 0) AS requests, coalesce(page_views, 0) AS page_views,
       coalesce(unique_visitors, 0) AS unique_visitors, coalesce(bytes, 0) AS bytes,
       coalesce(sessions, 0) AS sessions,
       coalesce(CAST(bounces AS DOUBLE PRECISION) / nullif(sessions, 0), 0.0) AS bounce_rate,
       coalesce(duration_total / nullif(sessions, 0), 0.0) AS avg_session_duration
FROM span LEFT JOIN sums USING (date)
ORDER BY span.date;
