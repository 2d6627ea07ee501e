/**
 * A fake HttpClient for byte-level request checks: records every request URL and answers with a
 * handler's `Response` (or a transport failure).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Effect, Layer } from "effect"
import { Keyset, PubNubConfig } from "../../src/index.js"

export interface Recorded {
  readonly url: URL
  /** path + "?" + query exactly as sent */
  readonly target: string
  readonly query: URLSearchParams
}

export type Answer = Response | "drop" | Effect.Effect<Response>

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Response =>
  new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: { "content-type": "text/javascript; charset=\"UTF-8\"", ...headers }
  })

export const ok = (extra: Record<string, unknown> = {}) =>
  json({ status: 200, message: "OK", service: "Presence", ...extra })

export const make = (handler: (req: Recorded) => Answer = () => ok()) => {
  const requests: Array<Recorded> = []
  const client = HttpClient.make((request, url) => {
    const target = url.pathname + url.search
    const rec: Recorded = { url, target, query: url.searchParams }
    requests.push(rec)
    const answer = handler(rec)
    if (answer === "drop") {
      return Effect.fail(
        new HttpClientError.RequestError({ request, reason: "Transport", cause: new Error("socket hang up") })
      )
    }
    const response = Effect.isEffect(answer) ? answer : Effect.succeed(answer)
    return Effect.map(response, (r) => HttpClientResponse.fromWeb(request, r))
  })
  return { requests, layer: Layer.succeed(HttpClient.HttpClient, client) }
}

export const alice = new Keyset.Keyset({ subscribeKey: "sub-c-test", publishKey: "pub-c-test", userId: "alice" })

export const testConfig = PubNubConfig.layer({ origin: "pn.test", secure: true, pnsdk: "test-sdk/1" })

/** HttpClient fake + keyset + config, for one test. */
export const layer = (handler?: (req: Recorded) => Answer, keysets: Keyset.Options = { default: alice }) => {
  const fake = make(handler)
  return { requests: fake.requests, layer: Layer.mergeAll(fake.layer, Keyset.layer(keysets), testConfig) }
}
