-- Per-tenant totals over the range, busiest first.
SELECT tenant, sum(requests) AS requests, sum(page_views) AS page_views,
       sum(unique_visitors) AS unique_visitors, sum(sessions) AS sessions
FROM daily
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY tenant
ORDER BY page_views DESC, requests DESC, tenant;
