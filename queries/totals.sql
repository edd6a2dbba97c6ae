-- Totals over the range. Unique visitors over a range are the sum of daily uniques (contract);
-- rates are computed from summed counts, never averaged averages.
SELECT coalesce(sum(requests), 0) AS requests,
       coalesce(sum(page_views), 0) AS page_views,
       coalesce(sum(unique_visitors), 0) AS unique_visitors,
       coalesce(sum(bytes), 0) AS bytes,
       coalesce(sum(bot_requests), 0) AS bot_requests,
       coalesce(sum(sessions), 0) AS sessions,
       coalesce(CAST(sum(bounces) AS DOUBLE PRECISION) / nullif(sum(sessions), 0), 0.0) AS bounce_rate,
       coalesce(sum(duration_total) / nullif(sum(sessions), 0), 0.0) AS avg_session_duration
FROM daily
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end;
