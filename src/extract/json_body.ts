/**
 * JSON log bodies become structured data: a body that is one JSON object is parsed (bounded depth and
 * key count; what is beyond is cut and counted), its well-known keys set the record's severity and
 * time, and the rest becomes a kvlist body (`body` mode) or record attributes (`attributes` mode).
 *
 * Cost: a body whose first byte after optional whitespace is not `{` is passed on after one or two
 * byte reads. Numbers keep int vs double and big integers stay exact (see `AttrValue` in record.ts):
 * `JSON.parse` alone turns `1.0` into the int 1 and rounds integers beyond 2^53, so when the parsed
 * body holds an integral value, a regex test over the text sends the few bodies that hold such tokens
 * through a reviver that reads each number's source text (V8's JSON.parse source text access, in
 * Deno 2.9). Bodies without integral numbers (zap, structlog: float `ts`, strings) skip the test, and
 * top-level integers are confirmed by finding their token after their key.
 *
 * In `body` mode, bodies read as bytes first go through {@linkcode JsonTranscoder} (_json_transcode.ts),
 * which writes the kvlist's protobuf straight from the bytes and declines whatever this path must decide;
 * the two give the same result (property test in tests/extract/json_transcode_test.ts).
 *
 * @module
 */

import type {
  AttrValue,
  HrTime,
  LogRecord,
  ReadTurns,
  RecordOrigin,
  RecordSink,
  RecordStage,
} from "../record.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import type { Series } from "../telemetry/metrics.ts";
import { JsonTranscoder } from "./_json_transcode.ts";
import { type Severity, severityOf, timeOf } from "./_well_known.ts";

/** Why a body was left as it was. */
export type JsonSkipReason = "not_object" | "malformed" | "trailing_text" | "invalid_utf8";

/** What was cut from a parsed body: containers deeper than max_depth, entries beyond max_keys. */
export type JsonCutReason = "depth" | "keys" | "attribute_collision";

/** Bounds of {@linkcode parseJsonBody}. */
export interface JsonLimits {
  /** Nesting levels kept (the top-level object is level 1); deeper containers become their JSON text. */
  maxDepth: number;
  /** Object entries plus array elements kept over the whole body; the rest is dropped. */
  maxKeys: number;
}

/** A parsed object body. */
export interface ParsedJsonBody {
  ok: true;
  /** The top-level entries, without the well-known keys that set a record field. */
  fields: { [key: string]: AttrValue };
  severity: Severity | null;
  time: HrTime | null;
  /** Containers deeper than `maxDepth`, replaced by their compact JSON text. */
  cutDepth: number;
  /** Entries and elements dropped beyond `maxKeys`. */
  cutKeys: number;
  /** A level / time key was present but its value named no severity / time (the key is kept). */
  keptLevel: boolean;
  keptTime: boolean;
}

/** The outcome of {@linkcode parseJsonBody}. */
export type JsonBodyResult = ParsedJsonBody | { ok: false; reason: JsonSkipReason };

const LEVEL_KEYS = ["level", "severity", "lvl"] as const;
const TIME_KEYS = ["time", "ts", "timestamp"] as const;

/**
 * Whether the first byte after optional JSON whitespace is `{`: the only bodies worth parsing.
 *
 * @example
 * ```ts
 * startsLikeObject(new TextEncoder().encode('  {"a":1}')); // true
 * startsLikeObject("plain text"); // false
 * ```
 */
export function startsLikeObject(body: Uint8Array | string): boolean {
  if (typeof body === "string") {
    for (let i = 0; i < body.length; i++) {
      const c = body.charCodeAt(i);
      if (c === 0x7b) return true;
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
    }
    return false;
  }
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === 0x7b) return true;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return false;
}

// Number tokens JSON.parse cannot represent faithfully, found at a token start (after `:`, `,` or `[`):
// an exponent, a fraction of zeros (`1.0`), 16+ integer digits (beyond 2^53 or close), or 16+ digits in
// all with a fraction starting with 0 or 9 (a decimal that may round to an integral double: one with
// at most 15 significant digits and a nonzero fraction never does, nor one whose fraction starts with
// 1..8). Matches inside strings are false positives that only cost the slower reviver path. Anchoring on
// the token start and one digit before branching keeps the test at ~1.5 ns per character.
const NEEDS_SOURCE_RE =
  /[:,[][ \t\r\n]*-?[0-9](?:(?=[0-9]{15})|(?=[0-9.]{16})(?=[0-9]*\.[09])|[0-9]*(?:[eE]|\.(?:0+(?![0-9])|[0-9]+[eE])))/;
const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;

interface ReviverContext {
  source?: string;
}

function reviveNumber(_key: string, value: unknown, context?: ReviverContext): unknown {
  if (typeof value !== "number" || context?.source === undefined) return value;
  const source = context.source;
  if (!/[.eE]/.test(source)) {
    if (Number.isSafeInteger(value)) return value;
    const big = BigInt(source);
    return big >= MIN_INT64 && big <= MAX_INT64 ? big : source;
  }
  return Number.isInteger(value) ? Float64Array.of(value) : value;
}

/**
 * Parses `text` as one JSON object, bounded by `limits`, and takes the well-known keys out.
 * Never throws: text that is not one object is a `{ ok: false, reason }` result.
 *
 * @example
 * ```ts
 * const r = parseJsonBody('{"level":"warn","msg":"slow","n":1.0}', { maxDepth: 8, maxKeys: 128 });
 * // r.ok && r.fields: { msg: "slow", n: Float64Array [1] }, r.severity.severityNumber === 13
 * ```
 */
export function parseJsonBody(text: string, limits: JsonLimits): JsonBodyResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: classifyFailure(text) };
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return { ok: false, reason: "not_object" };
  }
  const first = splat(raw as Record<string, unknown>, limits);
  // Only an integral value can come from a token JSON.parse misread (`1.0`, `1e3`, an integer beyond
  // 2^53), and a cut container is re-serialized, so only then is the text tested for such tokens; if
  // it has one, it is parsed again with the reviver that reads each number's source. Integral values
  // that all sit at the top level are checked by finding each one's token after its key. The regex
  // goes first: one native scan clears most texts, where the key search costs a string and two scans
  // per integral value.
  const walk = first.walk;
  if (walk.topIntegrals === null && !walk.hasNestedIntegral && walk.cutDepth === 0) return first.result;
  if (!NEEDS_SOURCE_RE.test(text)) return first.result;
  if (!walk.hasNestedIntegral && walk.cutDepth === 0 && areIntTokens(text, walk.topIntegrals!)) {
    return first.result;
  }
  const exact = JSON.parse(text, reviveNumber as (key: string, value: unknown) => unknown);
  return splat(exact as Record<string, unknown>, limits).result;
}

/** Takes the well-known keys out of a parsed object and bounds the rest (in place). */
function splat(
  top: Record<string, unknown>,
  limits: JsonLimits,
): { result: ParsedJsonBody; walk: BoundedWalk } {
  const result: ParsedJsonBody = {
    ok: true,
    fields: {},
    severity: null,
    time: null,
    cutDepth: 0,
    cutKeys: 0,
    keptLevel: false,
    keptTime: false,
  };
  const taken = takeWellKnown(top, result);
  const walk = new BoundedWalk(limits);
  result.fields = walk.top(top, taken);
  result.cutDepth = walk.cutDepth;
  result.cutKeys = walk.cutKeys;
  return { result, walk };
}

/** The keys that set a record field; they leave the map. */
interface TakenKeys {
  level: string | null;
  time: string | null;
}

/** Sets severity and time from the first well-known key of each kind; returns the keys consumed. */
function takeWellKnown(top: Record<string, unknown>, result: ParsedJsonBody): TakenKeys {
  const taken: TakenKeys = { level: null, time: null };
  for (const key of LEVEL_KEYS) {
    if (!Object.hasOwn(top, key)) continue;
    const severity = severityOf(top[key]);
    if (severity === null) result.keptLevel = true;
    else {
      result.severity = severity;
      taken.level = key;
    }
    break;
  }
  for (const key of TIME_KEYS) {
    if (!Object.hasOwn(top, key)) continue;
    const time = timeOf(top[key]);
    if (time === null) result.keptTime = true;
    else {
      result.time = time;
      taken.time = key;
    }
    break;
  }
  return taken;
}

/**
 * Enforces the limits on the freshly parsed tree in place (it is ours: JSON.parse just built it), so a
 * body within the limits costs one pass and no copies. Only the top level is copied, without the
 * well-known keys (a `delete` there would turn the object into a slow dictionary).
 */
class BoundedWalk {
  cutDepth = 0;
  cutKeys = 0;
  /** Top-level entries (well-known keys included) whose value is an integral number, or null. */
  topIntegrals: [key: string, value: number][] | null = null;
  /** Whether an integral number sits below the top level. */
  hasNestedIntegral = false;
  #maxDepth: number;
  #keysLeft: number;

  constructor(limits: JsonLimits) {
    this.#maxDepth = limits.maxDepth;
    this.#keysLeft = limits.maxKeys;
  }

  top(source: Record<string, unknown>, skip: TakenKeys): { [key: string]: AttrValue } {
    const out: { [key: string]: AttrValue } = {};
    for (const key in source) {
      const item = source[key];
      if (typeof item === "number" && Number.isInteger(item)) (this.topIntegrals ??= []).push([key, item]);
      if (key === skip.level || key === skip.time) continue;
      if (this.#keysLeft === 0) {
        this.cutKeys++;
        continue;
      }
      this.#keysLeft--;
      const value = this.#value(item, 2);
      // A plain assignment of "__proto__" would set the prototype instead of adding a key.
      if (key === "__proto__") {
        Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      } else out[key] = value;
    }
    return out;
  }

  /** The value to keep: itself (bounded in place), or its JSON text when it is too deep. */
  #value(value: unknown, depth: number): AttrValue {
    if (typeof value !== "object" || value === null || value instanceof Float64Array) {
      return value as AttrValue;
    }
    if (depth > this.#maxDepth) {
      this.cutDepth++;
      return stringifyCut(value);
    }
    if (Array.isArray(value)) this.#array(value, depth);
    else this.#object(value as Record<string, unknown>, depth);
    return value as AttrValue;
  }

  #array(array: unknown[], depth: number): void {
    if (array.length > this.#keysLeft) {
      this.cutKeys += array.length - this.#keysLeft;
      array.length = this.#keysLeft;
    }
    this.#keysLeft -= array.length;
    for (let i = 0; i < array.length; i++) {
      const item = array[i];
      if (typeof item === "object" && item !== null) array[i] = this.#value(item, depth + 1);
      else if (typeof item === "number" && Number.isInteger(item)) this.hasNestedIntegral = true;
    }
  }

  #object(object: Record<string, unknown>, depth: number): void {
    for (const key in object) {
      if (this.#keysLeft === 0) {
        this.cutKeys++;
        delete object[key];
        continue;
      }
      this.#keysLeft--;
      const item = object[key];
      if (typeof item === "object" && item !== null) object[key] = this.#value(item, depth + 1);
      else if (typeof item === "number" && Number.isInteger(item)) this.hasNestedIntegral = true;
    }
  }
}

/**
 * Whether each top-level integral value was written as a plain integer: its key occurs exactly once as a
 * string token in the text (inside a JSON string every quote is escaped, so `"key"` can only be a real
 * token; a second occurrence, e.g. the same key nested, makes it ambiguous), followed by `:` and exactly
 * the value's digits, then no `.`, exponent or digit. Anything else, or an unsafe integer, says no and
 * leaves the decision to the regex test.
 */
function areIntTokens(text: string, entries: readonly [string, number][]): boolean {
  for (let e = 0; e < entries.length; e++) {
    const [key, value] = entries[e];
    if (!Number.isSafeInteger(value)) return false;
    const needle = `"${key}"`;
    const at = text.indexOf(needle);
    if (at < 0 || text.indexOf(needle, at + 1) >= 0) return false;
    let i = skipBlanks(text, at + needle.length);
    if (text.charCodeAt(i) !== 0x3a) return false; // ':'
    i = skipBlanks(text, i + 1);
    const digits = String(value);
    if (!text.startsWith(digits, i)) return false;
    const next = text.charCodeAt(i + digits.length);
    // A digit, '.', 'e' or 'E' right after: the token is longer than the integer (or not an integer).
    if ((next >= 0x30 && next <= 0x39) || next === 0x2e || next === 0x65 || next === 0x45) return false;
  }
  return true;
}

function skipBlanks(text: string, from: number): number {
  let i = from;
  for (
    let c = text.charCodeAt(i);
    c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
    c = text.charCodeAt(++i)
  );
  return i;
}

/** The compact JSON text of a cut container, with exact big integers and doubles kept as written. */
function stringifyCut(value: object): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === "bigint") return rawJson(v.toString());
    if (v instanceof Float64Array) return rawJson(Number.isFinite(v[0]) ? v[0].toFixed(1) : "null");
    return v;
  });
}

function rawJson(text: string): unknown {
  return (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON(text);
}

/** Tells JSON followed by trailing text apart from broken JSON (only on the failure path). */
function classifyFailure(text: string): JsonSkipReason {
  const end = endOfFirstObject(text);
  if (end < 0 || end >= text.length) return "malformed";
  try {
    JSON.parse(text.slice(0, end));
    return "trailing_text";
  } catch {
    return "malformed";
  }
}

/** The index just past the `}` that closes the first object, or -1. String-aware brace counting. */
function endOfFirstObject(text: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) return i + 1;
      if (depth < 0) return -1;
    }
  }
  return -1;
}

/** Options for {@linkcode JsonBodyStage}. */
export interface JsonBodyStageOptions extends JsonLimits {
  /** `body`: the object becomes a kvlist body; `attributes`: the text stays, fields become attributes. */
  mode: "body" | "attributes";
  /** The next stage. */
  next: RecordSink;
  metrics: Pick<AgentMetrics, "jsonParsed" | "jsonTranscoded" | "jsonSkipped" | "jsonCut" | "jsonKeptKeys">;
  /**
   * The read loop's turns: kvlist bodies are written into buffers reused from the next turn on. Give it
   * only when every record pushed here is done with (encoded, or copied) within its turn. @default null
   */
  readTurns?: ReadTurns | null;
}

/** The record stage: splats JSON object bodies, forwards every record unchanged otherwise. */
export class JsonBodyStage implements RecordStage {
  #next: RecordSink;
  #limits: JsonLimits;
  #isBodyMode: boolean;
  // Not fatal: twice as fast; a U+FFFD in the result sends the body on as bytes (see #splat).
  #decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  #transcoder: JsonTranscoder;
  #parsed: Series;
  #transcoded: Series;
  #notObject: Series;
  #metrics: JsonBodyStageOptions["metrics"];

  constructor(options: JsonBodyStageOptions) {
    this.#next = options.next;
    this.#transcoder = new JsonTranscoder(options.readTurns ?? null);
    this.#limits = { maxDepth: options.maxDepth, maxKeys: options.maxKeys };
    this.#isBodyMode = options.mode === "body";
    this.#metrics = options.metrics;
    this.#parsed = options.metrics.jsonParsed.labels();
    this.#transcoded = options.metrics.jsonTranscoded.labels();
    this.#notObject = options.metrics.jsonSkipped.labels("not_object");
  }

  push(record: LogRecord, origin: RecordOrigin): void {
    const body = record.body;
    if (typeof body === "string" || body instanceof Uint8Array) {
      if (startsLikeObject(body)) this.#splat(record, body);
      else this.#notObject.value++;
    }
    this.#next.push(record, origin);
  }

  #splat(record: LogRecord, body: string | Uint8Array): void {
    if (this.#isBodyMode && body instanceof Uint8Array && this.#transcode(record, body)) return;
    let text: string;
    if (typeof body === "string") text = body;
    else {
      text = this.#decoder.decode(body);
      // Invalid UTF-8 decoded to U+FFFD: keep the bytes, the encoder replaces and counts them. (A body
      // that really wrote U+FFFD lands here too and also stays text.)
      if (text.includes("\uFFFD")) {
        this.#metrics.jsonSkipped.inc(1, "invalid_utf8");
        return;
      }
    }
    const result = parseJsonBody(text, this.#limits);
    if (!result.ok) {
      this.#metrics.jsonSkipped.inc(1, result.reason);
      return;
    }
    this.#applyWellKnown(record, result);
    if (this.#isBodyMode) record.body = result.fields;
    else this.#addAttributes(record, result);
    if (result.cutDepth > 0) this.#metrics.jsonCut.inc(result.cutDepth, "depth");
    if (result.cutKeys > 0) this.#metrics.jsonCut.inc(result.cutKeys, "keys");
  }

  /**
   * The fast path (body mode, bytes): the object goes from bytes to its kvlist encoding at once. False
   * when the transcoder declines the body; the `JSON.parse` path then decides it.
   */
  #transcode(record: LogRecord, body: Uint8Array): boolean {
    const l = this.#limits;
    const result = this.#transcoder.transcode(body, l.maxDepth, l.maxKeys);
    if (result === null) return false;
    this.#transcoded.value++;
    this.#applyWellKnown(record, result);
    record.body = result.value;
    return true;
  }

  /** What either path found in a parsed body: severity and time onto the record, kept keys counted. */
  #applyWellKnown(
    record: LogRecord,
    found: Pick<ParsedJsonBody, "severity" | "time" | "keptLevel" | "keptTime">,
  ): void {
    this.#parsed.value++;
    if (found.severity !== null) {
      record.severityNumber = found.severity.severityNumber;
      record.severityText = found.severity.severityText;
    }
    if (found.time !== null) record.hrTime = found.time;
    if (found.keptLevel) this.#metrics.jsonKeptKeys.inc(1, "level");
    if (found.keptTime) this.#metrics.jsonKeptKeys.inc(1, "time");
  }

  #addAttributes(record: LogRecord, result: ParsedJsonBody): void {
    const attributes = record.attributes;
    let collisions = 0;
    for (const key in result.fields) {
      // The agent's own attributes (log.iostream, rank, ...) win over a body field of the same name.
      if (Object.hasOwn(attributes, key)) collisions++;
      else if (key === "__proto__") {
        Object.defineProperty(attributes, key, {
          value: result.fields[key],
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else attributes[key] = result.fields[key];
    }
    if (collisions > 0) {
      record.droppedAttributesCount += collisions;
      this.#metrics.jsonCut.inc(collisions, "attribute_collision");
    }
  }
}
