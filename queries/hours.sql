-- Page views and unique visitors per UTC hour, for hours that saw any request.
SELECT strftime(date, '%Y-%m-%d') AS date, hour,
       sum(page_views) AS page_views, sum(unique_visitors) AS unique_visitors
FROM hourly
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY date, hour
ORDER BY date, hour;
