-- Per hour of the tenant's day (its local hour; `utc_offset`, minutes east of UTC, tells the two
-- 01:00 hours of a 25-hour DST day apart; NULL for all tenants, who may be in different zones,
-- and dropped from their report),
-- for hours that saw any request. Sessions count in the hour they started; time on page in the
-- hour of the page view it belongs to.
SELECT CAST(date AS VARCHAR) AS date, hour,
       CASE WHEN $tenant IS NULL THEN NULL ELSE coalesce(utc_offset, 0) END AS utc_offset,
       sum(page_views) AS page_views, sum(unique_visitors) AS unique_visitors,
       sum(requests) AS requests, sum(sessions) AS sessions,
       coalesce(CAST(sum(bounces) AS DOUBLE PRECISION) / nullif(sum(sessions), 0), 0.0) AS bounce_rate,
       coalesce(sum(time_total) / nullif(sum(time_count), 0), 0.0) AS avg_time_on_page,
       sum(posts_created) AS posts_created, sum(comments_created) AS comments_created,
       sum(reactions_given) AS reactions_given
FROM hourly
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY date, hour, CASE WHEN $tenant IS NULL THEN NULL ELSE coalesce(utc_offset, 0) END
ORDER BY date, hour, utc_offset DESC;
