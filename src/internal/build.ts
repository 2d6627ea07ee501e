/**
 * Building result instances from decoded data, fast.
 *
 * @internal
 */
import * as Option from "effect/Option"
import { OccupantInfo } from "../PresenceResult.js"
import type * as Wire from "./wire.js"

/**
 * An instance of a result class without running its constructor: the wire schemas have validated
 * the data already, and a large here-now answer holds tens of thousands of occupants (the
 * `Schema.Class` constructor costs ~0.2 µs each, even with validation off). The instance sits on
 * C's prototype; the caller sets its fields, which makes it the same as `new C(fields, true)`
 * (checked by test/results.test.ts). This is the SDK's one step outside the type system:
 * `Object.create` cannot say what it makes.
 *
 * @internal
 */
export const bare = <C extends new(...args: Array<never>) => object>(
  Class: C
): InstanceType<C> => Object.create(Class.prototype)

/** `bare` with the fields copied in. @internal */
export const fromFields = <C extends new(fields: never, ...rest: Array<never>) => object>(
  Class: C,
  fields: ConstructorParameters<C>[0]
): InstanceType<C> => Object.assign(bare(Class), fields)

/**
 * One occupant. Occupants are built by the ten thousand: their two fields are set one by one on
 * the bare instance, so every occupant gets the same shape without a fields object per occupant
 * (copying one with `fromFields` made a 20,000-occupant answer ~15% slower).
 *
 * @internal
 */
export const occupantInfo = (o: Wire.Occupant): OccupantInfo => {
  const info: { -readonly [K in keyof OccupantInfo]: OccupantInfo[K] } = bare(OccupantInfo)
  if (typeof o === "string") {
    info.uuid = o
    info.state = Option.none()
  } else {
    info.uuid = o.uuid
    info.state = Option.fromNullable(o.state)
  }
  return info
}
