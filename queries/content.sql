-- Posts by views over the range; read time is the time on page of post views.
SELECT post_id, sum(views) AS views, sum(unique_views) AS unique_views,
       sum(reactions) AS reactions, sum(comments) AS comments, sum(shares) AS shares,
       sum(reads_completed) AS reads_completed,
       coalesce(sum(read_time_total) / nullif(sum(read_time_count), 0), 0.0) AS avg_read_time
FROM content
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY post_id
ORDER BY views DESC, post_id
LIMIT $limit;
