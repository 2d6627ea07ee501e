/**
 * The event streams' metrics (`PresenceEvent` exports them).
 *
 * @internal
 */
import * as Metric from "effect/Metric"

/** @internal */
export const eventsReceived: Metric.Metric.Counter<number> = Metric.counter("pubnub_presence_events_received", {
  description: "presence messages received by the subscribe long-poll"
})

/** @internal */
export const reconnects: Metric.Metric.Counter<number> = Metric.counter("pubnub_presence_events_reconnects", {
  description: "reconnects of the subscribe long-poll after a retryable failure"
})

/** @internal */
export const duplicatesDropped: Metric.Metric.Counter<number> = Metric.counter(
  "pubnub_presence_events_duplicates_dropped",
  { description: "presence messages delivered again by the service, and dropped" }
)
