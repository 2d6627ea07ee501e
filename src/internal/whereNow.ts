/**
 * Where-now: the channels a user is present in.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import type { KeysetService } from "../Keyset.js"
import type { WhereNowOptions } from "../Presence.js"
import type { PresenceError } from "../PresenceError.js"
import { WhereNowResult } from "../PresenceResult.js"
import { cacheTtlMillis, coalesce, keysetKey } from "./coalesce.js"
import { encode } from "./encoding.js"
import { check, readOptions, resolveKeyset, SELECTION_KEYS } from "./options.js"
import { decodeWith, execute } from "./request.js"
import { operation } from "./span.js"
import { checkUserId } from "./validation.js"
import * as Wire from "./wire.js"

const decode = decodeWith(Wire.WhereNow)

/** @internal */
export const whereNow = operation("Presence.whereNow")((
  input?: WhereNowOptions
): Effect.Effect<WhereNowResult, PresenceError, KeysetService | HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const options = yield* readOptions(input, ["uuid", "cacheTtl", ...SELECTION_KEYS])
    if (options.uuid !== undefined) yield* check("uuid", options.uuid, checkUserId)
    const ttl = yield* cacheTtlMillis(options.cacheTtl)
    const keyset = yield* resolveKeyset(options)
    const uuid = options.uuid ?? keyset.userId
    const body = yield* coalesce(
      (s) => s.whereNow,
      (s) => `${keysetKey(s, keyset)}\u0000${uuid}`,
      ttl,
      execute(keyset, { path: `/uuid/${encode(uuid)}`, query: [] }, decode)
    )
    return new WhereNowResult({ uuid, channels: body.payload?.channels ?? [] }, true)
  })
)
