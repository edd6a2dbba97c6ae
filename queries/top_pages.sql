-- Most viewed pages over the range; unique views are summed daily uniques, like visitors.
SELECT path, sum(views) AS views, sum(unique_views) AS unique_views,
       sum(entries) AS entries, sum(exits) AS exits
FROM pages
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY path
ORDER BY views DESC, path
LIMIT $limit;
