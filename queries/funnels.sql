-- Visitors who reached each step of each funnel in one session (count/goals.py), summed over the
-- range's tenant-days.
SELECT funnel, CAST(step AS INTEGER) AS step, sum(visitors) AS visitors
FROM funnels
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY funnel, step
ORDER BY funnel, step;
