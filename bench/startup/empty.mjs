// Node itself: the floor every script starts from.
process.stdout.write(JSON.stringify({ occupancy: 0, maxRssKb: process.resourceUsage().maxRSS }))
