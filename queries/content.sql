-- Posts by views over the range.
SELECT post_id, sum(views) AS views, sum(unique_views) AS unique_views,
       sum(reactions) AS reactions, sum(comments) AS comments, sum(shares) AS shares
FROM content
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY post_id
ORDER BY views DESC, post_id
LIMIT $limit;
