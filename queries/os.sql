-- Operating systems by page views; unique visitors are summed daily uniques.
SELECT os, sum(page_views) AS page_views, sum(unique_visitors) AS unique_visitors,
       sum(requests) AS requests
FROM os
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY os
HAVING sum(page_views) > 0
ORDER BY page_views DESC, unique_visitors DESC, os
LIMIT $limit;
