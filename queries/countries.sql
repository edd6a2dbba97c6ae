-- Countries (ISO 3166-1 alpha-2, `unknown` for private and unlisted addresses) by page views.
SELECT country, sum(page_views) AS page_views, sum(unique_visitors) AS unique_visitors,
       sum(requests) AS requests
FROM countries
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY country
HAVING sum(page_views) > 0
ORDER BY page_views DESC, unique_visitors DESC, country
LIMIT $limit;
