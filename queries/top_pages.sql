-- Most viewed pages over the range; unique views are summed daily uniques, like visitors.
-- Average time on page counts only page views that had a next page view in their session.
SELECT path, sum(views) AS views, sum(unique_views) AS unique_views,
       sum(entries) AS entries, sum(exits) AS exits,
       coalesce(sum(time_total) / nullif(sum(time_count), 0), 0.0) AS avg_time_seconds
FROM pages
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY path
ORDER BY views DESC, path
LIMIT $limit;
