/**
 * An AnyValue already in protobuf form: a stage that reads a body as bytes can hand the encoder its
 * wire encoding (the JSON stage writes object bodies this way), and the encoder copies it as it is.
 *
 * @module
 */

/**
 * The encoding of one OTLP `AnyValue` message, without its length prefix (the encoder writes the tag
 * and the length). The bytes are the value's own: nothing else writes to them.
 *
 * @example
 * ```ts
 * // An empty kvlist: kvlist_value (6) holding an empty KeyValueList.
 * const empty = new EncodedAnyValue(Uint8Array.of(0x32, 0x00));
 * ```
 */
export class EncodedAnyValue {
  constructor(readonly bytes: Uint8Array) {}
}
