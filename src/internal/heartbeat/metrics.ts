/**
 * The managed heartbeat's metrics (`PresenceSession` exports them).
 *
 * @internal
 */
import * as Metric from "effect/Metric"

/** @internal */
export const heartbeatSuccesses: Metric.Metric.Counter<number> = Metric.counter("pubnub_presence_heartbeat_successes", {
  description: "managed heartbeats the service accepted"
})

/** @internal */
export const heartbeatFailures: Metric.Metric.Counter<number> = Metric.counter("pubnub_presence_heartbeat_failures", {
  description: "managed heartbeats that failed"
})

/** @internal */
export const heartbeatRetries: Metric.Metric.Counter<number> = Metric.counter("pubnub_presence_heartbeat_retries", {
  description: "retries of failed managed heartbeats"
})

/** @internal */
export const leaves: Metric.Metric.Counter<number> = Metric.counter("pubnub_presence_leaves", {
  description: "leaves announced by managed sessions"
})
