-- Goals over the range (count/goals.py): completions and converting visitors summed over the
-- tenant-days, the conversion rate as the summed visitors over the summed unique visitors of the
-- tenant-days the goal was counted on, and the first day it was (a goal added later has no row
-- for a day finalized before: `since`).
SELECT g.goal, sum(g.completions) AS completions, sum(g.visitors) AS visitors,
       coalesce(CAST(sum(g.visitors) AS DOUBLE PRECISION) / nullif(sum(d.unique_visitors), 0), 0)
         AS conversion_rate,
       CAST(min(g.date) AS VARCHAR) AS since
FROM goals AS g
LEFT JOIN daily AS d ON d.tenant = g.tenant AND d.date = g.date
WHERE ($tenant IS NULL OR g.tenant = $tenant) AND g.date BETWEEN $start AND $end
GROUP BY g.goal
ORDER BY visitors DESC, g.goal;
