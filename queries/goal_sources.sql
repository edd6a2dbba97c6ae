-- Converting visitors of each goal by the referrer source of the session they first completed it
-- in (count/goals.py), summed over the range; the report keeps the first `--limit` of each goal.
SELECT goal, source, sum(visitors) AS visitors
FROM goal_sources
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY goal, source
HAVING sum(visitors) > 0
ORDER BY goal, visitors DESC, source;
