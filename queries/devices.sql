-- Device types (desktop, mobile, tablet, bot, other) by page views, then requests: `bot` has
-- requests only (a bot never makes a page view).
SELECT device, sum(page_views) AS page_views, sum(unique_visitors) AS unique_visitors,
       sum(requests) AS requests
FROM devices
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY device
ORDER BY page_views DESC, requests DESC, device
LIMIT $limit;
