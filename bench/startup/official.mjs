// The same with the official client.
import PubNub from "pubnub"

const pubnub = new PubNub({ origin: process.argv[2], ssl: false, subscribeKey: "demo", userId: "startup" })
const here = await pubnub.hereNow({ channels: ["lobby"] })
process.stdout.write(JSON.stringify({ occupancy: here.totalOccupancy, maxRssKb: process.resourceUsage().maxRSS }))
process.exit(0)
