-- Browsers (family and major version) by page views; unique visitors are summed daily uniques.
-- Only browsers with page views: bots and tools are in `devices` (type `bot`), by requests.
SELECT browser, version, sum(page_views) AS page_views, sum(unique_visitors) AS unique_visitors,
       sum(requests) AS requests
FROM browsers
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY browser, version
HAVING sum(page_views) > 0
ORDER BY page_views DESC, unique_visitors DESC, browser, version
LIMIT $limit;
