/**
 * Parses the header of one CRI log line: `<RFC3339Nano timestamp> <stdout|stderr> <tag> <body>`.
 * Pure: no I/O. A hand scanner over the line's bytes (offsets are byte offsets, so a tag with non-ASCII
 * bytes after `:` never shifts the body; issue 8 defect 3), because it runs once per line on the hot path.
 *
 * @module
 */

import type { Stream } from "../record.ts";

/**
 * Why a line is not a CRI line.
 *
 * - `empty_line`: the line has no characters.
 * - `malformed_timestamp`: the first field is not an RFC 3339 timestamp with a valid date and time
 *   (a leap second `:60` is rejected too), or junk follows it before the first space.
 * - `bad_stream`: the second field is neither `stdout` nor `stderr`.
 * - `bad_tag`: the third field is empty or not of the form `[A-Z]+(:[^ ]*)?`.
 * - `missing_separator`: the line ends right after the timestamp or the stream, where a space and
 *   another field must follow.
 * - `timestamp_out_of_range`: a valid timestamp that OTLP's unsigned 64-bit nanoseconds since the epoch
 *   cannot hold (before 1970-01-01T00:00:00Z or after 2554-07-21T23:34:33.709551615Z); issue 8 defect 4.
 */
export type CriParseFailure =
  | "empty_line"
  | "malformed_timestamp"
  | "bad_stream"
  | "bad_tag"
  | "missing_separator"
  | "timestamp_out_of_range";

/** The parsed header of a CRI line; the body is `line.subarray(bodyStart, end)`. */
export interface CriHeader {
  ok: true;
  /** Seconds since the Unix epoch (UTC), an integer. */
  timeSec: number;
  /** Nanoseconds within the second, 0..999_999_999, exact from the 1-9 fraction digits. */
  timeNanos: number;
  /** The stream the runtime wrote the line to. */
  stream: Stream;
  /** True when the tag's first flag is `P`: the line is a piece of a longer record. */
  isPartial: boolean;
  /**
   * Byte index in `line` of the first body byte (absolute, like `start` and `end`). Equals `end` when the
   * body is empty.
   */
  bodyStart: number;
}

/** The result of {@linkcode parseCriLine}. */
export type CriParseResult = CriHeader | { ok: false; reason: CriParseFailure };

const EMPTY_LINE: CriParseResult = Object.freeze({ ok: false, reason: "empty_line" });
const MALFORMED_TIMESTAMP: CriParseResult = Object.freeze({ ok: false, reason: "malformed_timestamp" });
const BAD_STREAM: CriParseResult = Object.freeze({ ok: false, reason: "bad_stream" });
const BAD_TAG: CriParseResult = Object.freeze({ ok: false, reason: "bad_tag" });
const MISSING_SEPARATOR: CriParseResult = Object.freeze({ ok: false, reason: "missing_separator" });
const OUT_OF_RANGE: CriParseResult = Object.freeze({ ok: false, reason: "timestamp_out_of_range" });
/** 2^64 ns as seconds + nanoseconds: the first instant OTLP's `fixed64` time cannot hold. */
const MAX_UNIX_SEC = 18_446_744_073;
const MAX_UNIX_SEC_NANOS = 709_551_615;

/** `YYYY-MM-DDTHH:MM`: the part of the timestamp that lines of one file share for a minute. */
const MINUTE_PREFIX_CHARS = 16;
/** `YYYY-MM-DDTHH:MM:SSZ`: the shortest valid timestamp. */
const MIN_TIMESTAMP_CHARS = 20;
const MAX_FRACTION_DIGITS = 9;
const NANOS_SCALE = [0, 100_000_000, 10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];
const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const NOT_A_MINUTE = -Infinity;

const CH_SPACE = 32;
const CH_PLUS = 43;
const CH_MINUS = 45;
const CH_DOT = 46;
const CH_0 = 48;
const CH_COLON = 58;
const CH_A = 65;
const CH_P = 80;
const CH_T = 84;
const CH_Z = 90;
const CH_LOWER_T = 116;
const CH_LOWER_Z = 122;

// A one-entry memo of the last valid minute prefix. Consecutive lines of a file almost always share
// it, so the date arithmetic and its validation run about once a minute per file instead of per line.
// The prefix is held as a copy of its bytes: it keeps no reference to the caller's (possibly 1 MiB) read
// buffer. It only ever holds a validated prefix.
const cachedMinutePrefix = Uint8Array.from("1970-01-01T00:00", (c) => c.charCodeAt(0));
let cachedMinuteEpochSec = 0;

/**
 * Parses the header of the CRI line `line[start, end)` (without its trailing `"\n"`). Total: any bytes
 * give a result, never a throw. The body starts after exactly one space following the tag; `\r`, tabs
 * and any other bytes stay in the body. Past `end` the line reads as ended (no byte beyond it is looked
 * at as part of the line).
 *
 * @example
 * ```ts
 * const line = new TextEncoder().encode("2024-05-01T12:00:00.5+02:00 stderr P hello");
 * const r = parseCriLine(line);
 * // r.ok && r.timeSec === 1714557600 && r.timeNanos === 500_000_000 && r.isPartial
 * // new TextDecoder().decode(line.subarray(r.bodyStart)) === "hello"
 * ```
 */
export function parseCriLine(line: Uint8Array, start = 0, end: number = line.length): CriParseResult {
  // Offsets stay absolute (no subarray per line): every read below is bounded by `end`.
  const length = end - start;
  if (length === 0) return EMPTY_LINE;
  if (length < MIN_TIMESTAMP_CHARS) return MALFORMED_TIMESTAMP;

  let minuteEpochSec = cachedMinuteEpochSec;
  if (!hasCachedMinutePrefix(line, start)) {
    minuteEpochSec = parseMinutePrefix(line, start);
    if (minuteEpochSec === NOT_A_MINUTE) return MALFORMED_TIMESTAMP;
    cacheMinutePrefix(line, start, minuteEpochSec);
  }

  // ":SS", then an optional fraction of 1-9 digits.
  const s1 = line[start + 17] - CH_0;
  const s0 = line[start + 18] - CH_0;
  if (line[start + 16] !== CH_COLON || !(s1 >= 0 && s1 <= 5 && s0 >= 0 && s0 <= 9)) {
    return MALFORMED_TIMESTAMP;
  }
  let pos = start + 19;
  let timeNanos = 0;
  if (pos < end && line[pos] === CH_DOT) {
    const fractionStart = ++pos;
    let d = pos < end ? line[pos] - CH_0 : -1;
    while (d >= 0 && d <= 9) {
      if (pos - fractionStart === MAX_FRACTION_DIGITS) return MALFORMED_TIMESTAMP;
      timeNanos = timeNanos * 10 + d;
      d = ++pos < end ? line[pos] - CH_0 : -1;
    }
    const digits = pos - fractionStart;
    if (digits === 0) return MALFORMED_TIMESTAMP;
    timeNanos *= NANOS_SCALE[digits];
  }

  // "Z" or "±HH:MM".
  let offsetSec = 0;
  const zone = pos < end ? line[pos] : -1;
  if (zone === CH_Z || zone === CH_LOWER_Z) {
    pos += 1;
  } else if (zone === CH_PLUS || zone === CH_MINUS) {
    offsetSec = pos + 6 <= end ? parseOffsetSec(line, pos + 1) : -1;
    if (offsetSec < 0) return MALFORMED_TIMESTAMP;
    if (zone === CH_MINUS) offsetSec = -offsetSec;
    pos += 6;
  } else {
    return MALFORMED_TIMESTAMP;
  }
  if (pos === end) return MISSING_SEPARATOR;
  if (line[pos] !== CH_SPACE) return MALFORMED_TIMESTAMP;

  // " stdout" / " stderr"
  const stream = pos + 7 <= end ? parseStream(line, pos + 1) : undefined;
  if (stream === undefined) return BAD_STREAM;
  pos += 7;
  if (pos === end) return MISSING_SEPARATOR;
  if (line[pos] !== CH_SPACE) return BAD_STREAM;

  const timeSec = minuteEpochSec + s1 * 10 + s0 - offsetSec;
  if (timeSec < 0 || timeSec > MAX_UNIX_SEC || (timeSec === MAX_UNIX_SEC && timeNanos > MAX_UNIX_SEC_NANOS)) {
    return OUT_OF_RANGE;
  }
  return parseTag(line, pos + 1, end, {
    ok: true,
    timeSec,
    timeNanos,
    stream,
    isPartial: false,
    bodyStart: end,
  });
}

/** Fills `isPartial` and `bodyStart` of `header` from the tag at `start`, or reports a bad tag. */
function parseTag(line: Uint8Array, start: number, end: number, header: CriHeader): CriParseResult {
  let pos = start;
  let c = pos < end ? line[pos] : -1;
  while (c >= CH_A && c <= CH_Z) c = ++pos < end ? line[pos] : -1;
  const flagChars = pos - start;
  if (flagChars === 0) return BAD_TAG;
  // Only the first flag decides; unknown uppercase flags are treated as F.
  header.isPartial = flagChars === 1 && line[start] === CH_P;
  if (c === CH_COLON) {
    pos = line.indexOf(CH_SPACE, pos + 1);
    if (pos < 0 || pos >= end) return header;
  } else if (c !== CH_SPACE) {
    return pos === end ? header : BAD_TAG;
  }
  header.bodyStart = pos + 1;
  return header;
}

/** The stream named at `start` when it is followed by a space or the end, else undefined. */
function parseStream(line: Uint8Array, start: number): Stream | undefined {
  // "std" then "out" or "err".
  if (
    line[start] !== 115 || line[start + 1] !== 116 || line[start + 2] !== 100
  ) {
    return undefined;
  }
  const a = line[start + 3];
  const b = line[start + 4];
  const c = line[start + 5];
  if (a === 111 && b === 117 && c === 116) return "stdout";
  if (a === 101 && b === 114 && c === 114) return "stderr";
  return undefined;
}

/** `HH:MM` at `start` as seconds, or -1 when malformed or out of range. */
function parseOffsetSec(line: Uint8Array, start: number): number {
  const hours = twoDigits(line, start);
  const minutes = twoDigits(line, start + 3);
  if (line[start + 2] !== CH_COLON || hours < 0 || hours > 23 || minutes < 0 || minutes > 59) {
    return -1;
  }
  return hours * 3600 + minutes * 60;
}

/** Validates `YYYY-MM-DDTHH:MM` at `at` and returns its epoch seconds (UTC, before the zone offset). */
function parseMinutePrefix(line: Uint8Array, at: number): number {
  const century = twoDigits(line, at);
  const yearOfCentury = twoDigits(line, at + 2);
  const year = century * 100 + yearOfCentury;
  const month = twoDigits(line, at + 5);
  const day = twoDigits(line, at + 8);
  const hour = twoDigits(line, at + 11);
  const minute = twoDigits(line, at + 14);
  const t = line[at + 10];
  if (
    line[at + 4] !== CH_MINUS || line[at + 7] !== CH_MINUS || line[at + 13] !== CH_COLON ||
    (t !== CH_T && t !== CH_LOWER_T) || century < 0 || yearOfCentury < 0 || month < 1 || month > 12 ||
    day < 1 ||
    day > daysInMonth(year, month) || hour < 0 || hour > 23 || minute < 0 || minute > 59
  ) {
    return NOT_A_MINUTE;
  }
  return daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60;
}

function hasCachedMinutePrefix(line: Uint8Array, at: number): boolean {
  // Backwards: the minute digits are the ones that change.
  for (let i = MINUTE_PREFIX_CHARS - 1; i >= 0; i--) {
    if (line[at + i] !== cachedMinutePrefix[i]) return false;
  }
  return true;
}

function cacheMinutePrefix(line: Uint8Array, at: number, minuteEpochSec: number): void {
  for (let i = 0; i < MINUTE_PREFIX_CHARS; i++) cachedMinutePrefix[i] = line[at + i];
  cachedMinuteEpochSec = minuteEpochSec;
}

/** The two ASCII digits at `start` as a number, or -1 when either is not a digit. */
function twoDigits(line: Uint8Array, start: number): number {
  const hi = line[start] - CH_0;
  const lo = line[start + 1] - CH_0;
  // NaN (past the end) fails these comparisons too.
  return hi >= 0 && hi <= 9 && lo >= 0 && lo <= 9 ? hi * 10 + lo : -1;
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return DAYS_IN_MONTH[month];
  const isLeap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return isLeap ? 29 : 28;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (the `days_from_civil` algorithm). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}
