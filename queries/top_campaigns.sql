-- Sessions that arrived with a utm_source, by source, medium and campaign.
SELECT source, medium, campaign, sum(visits) AS visits
FROM campaigns
WHERE ($tenant IS NULL OR tenant = $tenant) AND date BETWEEN $start AND $end
GROUP BY source, medium, campaign
ORDER BY visits DESC, source, medium, campaign
LIMIT $limit;
