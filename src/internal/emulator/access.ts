/**
 * Who may do what on the emulator: accepted subscribe keys, v2 signatures, Access Manager grants.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { Options } from "../../Emulator.js"
import { sign } from "../request.js"
import { accessError, type Reply, type Target } from "./target.js"

/** The access settings, ready to check with. @internal */
export interface Access {
  /** the HMAC key imported for `secretKey`, kept */
  readonly signingKeys: WeakMap<Redacted.Redacted<string>, Promise<CryptoKey>>
  readonly keys: ReadonlySet<string> | undefined
  readonly secretKey: Redacted.Redacted<string> | undefined
  readonly publishKey: string
  readonly grants:
    | ReadonlyMap<string, { readonly channels: ReadonlySet<string>; readonly channelGroups: ReadonlySet<string> }>
    | undefined
}

/** @internal */
export const makeAccess = (options: Options): Access => ({
  signingKeys: new WeakMap(),
  keys: options.keys === undefined ? undefined : new Set(options.keys),
  secretKey: options.secretKey === undefined
    ? undefined
    : Redacted.isRedacted(options.secretKey)
    ? options.secretKey
    : Redacted.make(options.secretKey),
  publishKey: options.publishKey ?? "",
  grants: options.grants === undefined ? undefined : new Map(
    Object.entries(options.grants).map(([auth, g]) => [auth, {
      channels: new Set(g.channels ?? []),
      channelGroups: new Set(g.channelGroups ?? [])
    }])
  )
})

/** The subscribe key is one this emulator serves; otherwise the refusal. @internal */
export const checkKey = (access: Access, subscribeKey: string): Reply | undefined =>
  access.keys === undefined || access.keys.has(subscribeKey) ? undefined : accessError(400, "Invalid Subscribe Key")

/** Signatures are allowed this far from the signer's clock. */
const MAX_SKEW_MS = 60_000

/**
 * Checks the v2 signature of a request, when a secret key is set. Its `timestamp` is compared
 * with `realNow` — the clock the client signs with — not with presence time, which `advance`
 * moves ahead.
 *
 * @internal
 */
export const verifySignature = (access: Access, t: Target, realNow: number): Effect.Effect<Reply | undefined> => {
  const secret = access.secretKey
  if (secret === undefined) return Effect.succeed(undefined)
  const refused = accessError(403, "Signature does not match")
  const signature = t.query.get("signature")
  const timestamp = t.query.get("timestamp")
  if (signature === undefined || timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) {
    return Effect.succeed(refused)
  }
  if (Math.abs(Number(timestamp) * 1000 - realNow) > MAX_SKEW_MS) {
    return Effect.succeed(accessError(403, "Request Expired"))
  }
  const canonical = t.rawPairs.filter(([k]) => k !== "signature")
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&")
  return sign(access.signingKeys, secret, `GET\n${access.publishKey}\n${t.path}\n${canonical}\n`).pipe(
    Effect.map((expected) => (expected === signature ? undefined : refused)),
    Effect.orElseSucceed(() => refused)
  )
}

/**
 * Checks the request's auth key against the grants: the 403 lists only the kinds refused
 * (`channels`, `channel-groups`), as the service's does.
 *
 * @internal
 */
export const checkGrants = (
  access: Access,
  t: Target,
  channels: ReadonlyArray<string>,
  groups: ReadonlyArray<string>
): Reply | undefined => {
  const grants = access.grants
  if (grants === undefined) return undefined
  const auth = t.query.get("auth")
  const grant = auth === undefined ? undefined : grants.get(auth)
  const refusedChannels = grant === undefined ? channels : channels.filter((c) => !grant.channels.has(c))
  const refusedGroups = grant === undefined ? groups : groups.filter((g) => !grant.channelGroups.has(g))
  if (grant !== undefined && refusedChannels.length === 0 && refusedGroups.length === 0) return undefined
  const payload = {
    ...(refusedChannels.length > 0 ? { channels: [...refusedChannels] } : {}),
    ...(refusedGroups.length > 0 ? { "channel-groups": [...refusedGroups] } : {})
  }
  return accessError(403, "Forbidden", Object.keys(payload).length > 0 ? payload : undefined)
}
