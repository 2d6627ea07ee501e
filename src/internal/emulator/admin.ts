/**
 * The emulator's admin API under `/__emulator/` (state, reset, advance, faults, requests), and the
 * guard in front of it.
 *
 * The guard keeps a web page from driving a local emulator: a request carrying a foreign `Origin`
 * (a cross-site `fetch` or form post) is refused; without a token only loopback `Host`s are
 * served (DNS rebinding points a foreign name at 127.0.0.1); admin POSTs must be JSON (which a
 * cross-site form cannot send) and small. An emulator listening beyond loopback serves its admin
 * API only with a token. curl on the same machine needs nothing but the JSON content type.
 *
 * @internal
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { AdminOptions } from "../../Emulator.js"
import { parseJson } from "../encoding.js"
import { decodeUnknownEither, describeIssue } from "../issue.js"

/**
 * The largest admin request body read: 4 MiB (a fault may carry a large body to answer with, such
 * as a 1 MB here-now).
 *
 * @internal
 */
export const MAX_ADMIN_BODY = 4 * 1024 * 1024

/**
 * Past the limit a body without a declared length is read on, into nothing, up to this much, so
 * that its sender gets the 413; a body longer still is cut off (the connection closed).
 */
const MAX_DISCARD = 2 * MAX_ADMIN_BODY

/** The guard's settings. @internal */
export interface Guard {
  readonly enabled: boolean
  readonly token: Redacted.Redacted<string> | undefined
  readonly requireToken: boolean
  readonly allowedOrigins: ReadonlySet<string>
  readonly allowedHosts: ReadonlySet<string>
}

/** @internal */
export const makeGuard = (options: boolean | AdminOptions | undefined): Guard => {
  const o: AdminOptions = typeof options === "object" && options !== null ? options : {}
  return {
    enabled: options !== false,
    token: o.token === undefined ? undefined : Redacted.isRedacted(o.token) ? o.token : Redacted.make(o.token),
    requireToken: o.requireToken ?? false,
    allowedOrigins: new Set((o.allowedOrigins ?? []).map((x) => x.toLowerCase())),
    allowedHosts: new Set((o.allowedHosts ?? []).map((x) => x.toLowerCase()))
  }
}

/** JSON for admin answers. @internal */
export const adminJson = (body: unknown, status = 200) =>
  HttpServerResponse.text(JSON.stringify(body), { status, contentType: "application/json" })

/** @internal */
export const adminError = (status: number, message: string) => adminJson({ status, error: true, message }, status)

/**
 * Whether a host name (no port) is this machine: `localhost` (and `*.localhost`), `127.0.0.0/8`,
 * `::1`.
 *
 * @internal
 */
export const isLoopbackName = (name: string): boolean => {
  const n = name.toLowerCase().replace(/^\[(.*)\]$/, "$1")
  return n === "localhost" || n.endsWith(".localhost") || n === "::1" || /^127(?:\.\d{1,3}){3}$/.test(n)
}

/** The host name of a `Host` header value (`127.0.0.1:8090`, `[::1]:8090`). */
const hostName = (host: string): string => {
  const bracket = /^\[([^\]]*)\](?::\d+)?$/.exec(host)
  if (bracket !== null) return bracket[1]
  const colon = host.lastIndexOf(":")
  return colon < 0 ? host : host.slice(0, colon)
}

/** The host name of an `Origin` value (`http://127.0.0.1:3000`); `undefined` for `null` or junk. */
const originName = (origin: string): string | undefined => {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)$/i.exec(origin.trim())
  return m === null ? undefined : hostName(m[1].replace(/^[^@]*@/, ""))
}

const sameText = (a: string, b: string): boolean => {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

const isJsonType = (contentType: string | undefined): boolean => {
  if (contentType === undefined) return false
  const media = contentType.split(";")[0].trim().toLowerCase()
  return media === "application/json" || (media.startsWith("application/") && media.endsWith("+json"))
}

/**
 * Why an admin request is refused (status and message), or `undefined` when it may go on.
 *
 * @internal
 */
export const refusal = (
  guard: Guard,
  request: HttpServerRequest.HttpServerRequest
): { readonly status: number; readonly message: string } | undefined => {
  if (!guard.enabled) return { status: 404, message: "The admin API is switched off on this emulator" }
  const origin = request.headers["origin"]
  if (origin !== undefined && !guard.allowedOrigins.has(origin.trim().toLowerCase())) {
    const name = originName(origin)
    if (name === undefined || !isLoopbackName(name)) {
      return { status: 403, message: "Admin requests from another origin are refused" }
    }
  }
  if (guard.token !== undefined) {
    const auth = request.headers["authorization"] ?? ""
    const given = /^Bearer\s+(.+)$/i.exec(auth.trim())?.[1] ?? ""
    if (!sameText(given, Redacted.value(guard.token))) {
      return { status: 401, message: "The admin API needs `Authorization: Bearer <token>`" }
    }
  } else if (guard.requireToken) {
    return {
      status: 403,
      message: "This emulator listens beyond loopback: its admin API works only with an admin token"
    }
  } else {
    const host = request.headers["host"]
    if (host !== undefined && !guard.allowedHosts.has(host.toLowerCase()) && !isLoopbackName(hostName(host))) {
      return { status: 403, message: "Admin requests must be addressed to a loopback host (or use an admin token)" }
    }
  }
  if (request.method === "POST" && !isJsonType(request.headers["content-type"])) {
    return { status: 415, message: "Admin POSTs must have `content-type: application/json`" }
  }
  return undefined
}

class BodyTooLarge {
  readonly _tag = "BodyTooLarge"
}

/**
 * The request body as JSON (`{}` when empty): 413 past {@link MAX_ADMIN_BODY}, 400 when it is not
 * JSON.
 *
 * @internal
 */
export const readJsonBody: Effect.Effect<
  Either.Either<unknown, HttpServerResponse.HttpServerResponse>,
  never,
  HttpServerRequest.HttpServerRequest
> = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
  const declared = Number(request.headers["content-length"])
  const tooLarge = Either.left(adminError(413, `Admin bodies are at most ${MAX_ADMIN_BODY} bytes`))
  if (Number.isFinite(declared) && declared > MAX_ADMIN_BODY) return Effect.succeed(tooLarge)
  return Effect.suspend(() => {
    const decoder = new TextDecoder()
    let text = ""
    let total = 0
    return request.stream.pipe(
      Stream.runForEach((chunk) => {
        total += chunk.byteLength
        if (total > MAX_DISCARD) return Effect.fail(new BodyTooLarge())
        if (total <= MAX_ADMIN_BODY) text += decoder.decode(chunk, { stream: true })
        return Effect.void
      }),
      Effect.map(() => {
        if (total > MAX_ADMIN_BODY) return tooLarge
        const all = (text + decoder.decode()).trim()
        if (all.length === 0) return Either.right({})
        const json = parseJson(all)
        return Option.isSome(json) ? Either.right(json.value) : Either.left(adminError(400, "The body is not JSON"))
      }),
      Effect.catchAll((e) =>
        Effect.succeed(
          e instanceof BodyTooLarge ? tooLarge : Either.left(adminError(400, "The body could not be read"))
        )
      )
    )
  })
})

/**
 * Decodes an admin body with a schema: the value, or a 400 with a bounded description.
 *
 * @internal
 */
export const decodeBody = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = decodeUnknownEither(schema)
  return (body: unknown, usage: string): Either.Either<A, HttpServerResponse.HttpServerResponse> =>
    Either.mapLeft(decode(body), (e) => adminError(400, `${usage}: ${describeIssue(e.issue)}`))
}

/** What the admin routes do, given the emulator. @internal */
export interface AdminActions {
  readonly snapshot: Effect.Effect<unknown>
  readonly reset: Effect.Effect<void>
  readonly advance: (body: unknown) => Effect.Effect<HttpServerResponse.HttpServerResponse>
  readonly addFault: (body: unknown) => Effect.Effect<HttpServerResponse.HttpServerResponse>
  readonly faults: Effect.Effect<unknown>
  readonly clearFaults: Effect.Effect<void>
  readonly requests: Effect.Effect<unknown>
  readonly config?: ((body: unknown) => Effect.Effect<HttpServerResponse.HttpServerResponse>) | undefined
}

const withBody = (f: (body: unknown) => Effect.Effect<HttpServerResponse.HttpServerResponse>) =>
  Effect.flatMap(readJsonBody, Either.match({ onLeft: Effect.succeed, onRight: f }))

const OK = { status: 200, message: "OK" }

/**
 * The admin app: the guard, then the routes; an unknown admin route is 404.
 *
 * @internal
 */
export const adminApp = (guard: Guard, actions: AdminActions) => {
  let router = HttpRouter.empty.pipe(
    HttpRouter.get("/__emulator/state", Effect.map(actions.snapshot, (s) => adminJson(s))),
    HttpRouter.post("/__emulator/reset", Effect.as(actions.reset, adminJson(OK))),
    HttpRouter.post("/__emulator/advance", withBody(actions.advance)),
    HttpRouter.get("/__emulator/faults", Effect.map(actions.faults, (faults) => adminJson({ faults }))),
    HttpRouter.post("/__emulator/faults", withBody(actions.addFault)),
    HttpRouter.del("/__emulator/faults", Effect.as(actions.clearFaults, adminJson(OK))),
    HttpRouter.get("/__emulator/requests", Effect.map(actions.requests, (requests) => adminJson({ requests })))
  )
  if (actions.config !== undefined) router = HttpRouter.post(router, "/__emulator/config", withBody(actions.config))
  const routed = Effect.catchTag(router, "RouteNotFound", () => Effect.succeed(adminError(404, "Unknown admin route")))
  return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const refused = refusal(guard, request)
    return refused === undefined ? routed : Effect.succeed(adminError(refused.status, refused.message))
  })
}
