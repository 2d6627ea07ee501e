/**
 * A short, bounded description of a Schema parse failure, for error messages.
 *
 * Schema's own formatters print the whole offending value, recursively: a 5,000-level nested body
 * overflows the stack there, and a large one makes a message as large. This walks to the first
 * leaf issue (the decoders stop at the first error) and describes the value by its kind and size.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"

const MAX_DEPTH = 64
const MAX_MESSAGE = 200

const clip = (s: string, n: number): string => (s.length > n ? s.slice(0, n) + "…" : s)

/**
 * A value by its kind: strings (clipped) and scalars as JSON, arrays and objects by their size.
 *
 * @internal
 */
export const preview = (u: unknown): string => {
  switch (typeof u) {
    case "string":
      return JSON.stringify(clip(u, 40))
    case "number":
    case "boolean":
    case "bigint":
      return String(u)
    case "undefined":
      return "undefined"
    case "object": {
      if (u === null) return "null"
      if (Array.isArray(u)) return `an array of ${u.length} item${u.length === 1 ? "" : "s"}`
      try {
        const keys = Object.keys(u)
        const shown = keys.slice(0, 5).map((k) => JSON.stringify(clip(k, 20))).join(", ")
        return keys.length === 0 ? "an empty object" : `an object with keys ${shown}${keys.length > 5 ? ", …" : ""}`
      } catch {
        return "an object"
      }
    }
    default:
      return `a ${typeof u}`
  }
}

const expected = (ast: AST.AST): string => {
  const named = Option.orElse(AST.getIdentifierAnnotation(ast), () => AST.getDescriptionAnnotation(ast))
  if (Option.isSome(named)) return clip(named.value, 80)
  switch (ast._tag) {
    case "TypeLiteral":
      return "an object"
    case "TupleType":
      return "an array"
    case "Refinement":
      return expected(ast.from)
    case "Transformation":
      return expected(ast.to)
    default:
      return clip(String(ast), 80)
  }
}

const key = (k: PropertyKey): string => (typeof k === "symbol" ? k.toString() : JSON.stringify(k))

/** A schema's own message for an issue (`Schema.filter(…, { message })`), when it is plain text. */
const ownMessage = (issue: ParseResult.ParseIssue): string | undefined => {
  if (issue._tag !== "Refinement" && issue._tag !== "Type" && issue._tag !== "Transformation") return undefined
  const annotation = AST.getMessageAnnotation(issue.ast)
  if (Option.isNone(annotation)) return undefined
  try {
    const m = annotation.value(issue)
    return typeof m === "string" ? m : typeof m === "object" && "message" in m && typeof m.message === "string"
      ? m.message
      : undefined
  } catch {
    return undefined
  }
}

/**
 * `["payload"]["channels"]: Expected a number, actual "x"` — the first failure, bounded.
 *
 * @internal
 */
export const describeIssue = (issue: ParseResult.ParseIssue): string => {
  let path = ""
  let current: ParseResult.ParseIssue = issue
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const own = ownMessage(current)
    if (own !== undefined) return `${path.length > 0 ? `${clip(path, 120)}: ` : ""}${clip(own, MAX_MESSAGE)}`
    switch (current._tag) {
      case "Pointer": {
        const parts = Array.isArray(current.path) ? current.path : [current.path]
        for (const p of parts) path += `[${key(p)}]`
        current = current.issue
        continue
      }
      case "Refinement":
      case "Transformation":
        current = current.issue
        continue
      case "Composite":
        current = Array.isArray(current.issues) ? current.issues[0] : current.issues
        continue
    }
    break
  }
  const at = path.length > 0 ? `${clip(path, 120)}: ` : ""
  switch (current._tag) {
    case "Missing":
      return `${at}is missing`
    case "Unexpected":
      return `${at}is unexpected`
    case "Type":
      return at + (current.message !== undefined
        ? clip(current.message, MAX_MESSAGE)
        : `Expected ${expected(current.ast)}, actual ${preview(current.actual)}`)
    case "Forbidden":
      return `${at}cannot be decoded here`
    default:
      return `${at}does not match`
  }
}

/** Runs a Schema parser; what it throws (an app's transformation, say) is a parse failure too. */
const guarded = <In, Out>(
  ast: AST.AST,
  run: (input: In) => Either.Either<Out, ParseResult.ParseError>,
  what: string
) =>
(input: In): Either.Either<Out, ParseResult.ParseError> => {
  try {
    return run(input)
  } catch {
    return Either.left(new ParseResult.ParseError({ issue: new ParseResult.Type(ast, input, what) }))
  }
}

/**
 * `Schema.decodeUnknownEither` (first error only) that never throws.
 *
 * Schema's discriminated unions turn a discriminant into a string with `String(value)`, which
 * throws for an object whose `toString` is not a function (`{"action": {"toString": false}}` is
 * valid JSON). Anything decoded from the wire or from a caller goes through here, so such a value
 * is a parse failure like any other.
 *
 * @internal
 */
export const decodeUnknownEither = <A, I>(schema: Schema.Schema<A, I>) =>
  guarded<unknown, A>(
    schema.ast,
    Schema.decodeUnknownEither(schema, { errors: "first" }),
    "a value that cannot be read"
  )

/**
 * `Schema.encodeEither` (first error only) that never throws (a transformation may throw).
 *
 * @internal
 */
export const encodeEither = <A, I>(schema: Schema.Schema<A, I>) =>
  guarded<A, I>(schema.ast, Schema.encodeEither(schema, { errors: "first" }), "a value that cannot be encoded")

/**
 * A `ParseError` that is safe to show and to keep: its message is {@link describeIssue} of the
 * original (bounded), and it holds a preview of the offending value instead of the value. Schema's
 * own message prints the whole value, recursively — on a deeply nested one reading `message`
 * overflows the stack. For parse errors handed to apps (typed state).
 *
 * @internal
 */
export const boundedParseError = (
  ast: AST.AST,
  error: ParseResult.ParseError,
  actual: unknown
): ParseResult.ParseError =>
  new ParseResult.ParseError({ issue: new ParseResult.Type(ast, preview(actual), describeIssue(error.issue)) })
