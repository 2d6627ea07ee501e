// The managed heartbeat, as in docs/managed-heartbeat.md (type-checked by `npm test`).
import { Effect, Schedule, Stream } from "effect"
import { Presence, PresenceSession } from "effect-pubnub-presence"

// Present in "lobby" for as long as this scope is open; leave announced when it closes.
export const inLobby = Effect.scoped(
  Effect.gen(function*() {
    const session = yield* Presence.enter({
      channels: ["lobby"],
      heartbeat: 60, // presence timeout: 20–320 s
      state: { lobby: { mood: "here" } } // sent with every heartbeat
    })

    // watch the session: Present → AtRisk → Expired → Present …, or Stopped
    yield* Effect.forkScoped(
      session.statusChanges.pipe(
        Stream.runForEach((status) =>
          PresenceSession.SessionStatus.$match(status, {
            Present: ({ expiresAt }) => Effect.log(`present until ${new Date(expiresAt).toISOString()}`),
            AtRisk: ({ failures, lastError }) =>
              Effect.logWarning(`heartbeat failing (${failures}): ${lastError.message}`),
            Expired: () => Effect.logWarning("timed out at the service; still trying"),
            Stopped: ({ error }) => Effect.logError("heartbeat stopped", error)
          })
        )
      )
    )

    yield* session.setState({ mood: "typing" })
    yield* session.add({ channels: ["kitchen"] })
    yield* Effect.sleep("10 minutes")
    yield* session.remove({ channels: ["kitchen"] })
  })
)

// A custom retry schedule for failed heartbeats (fed the PresenceError).
export const patient = Presence.enter({
  channels: ["lobby"],
  retry: Schedule.spaced("3 seconds"),
  leaveTimeout: "2 seconds"
})
