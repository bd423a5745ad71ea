/**
 * The CRI line case table, shared by the parser tests and the CRI bench.
 *
 * @module
 */

import type { CriParseFailure } from "../../src/cri/mod.ts";
import type { Stream } from "../../src/record.ts";

/** What parsing a case must give; on success the body is the UTF-8 text from `bodyStart` (a byte index). */
export type CriWant =
  | { ok: true; timeSec: number; timeNanos: number; stream: Stream; isPartial: boolean; body: string }
  | { ok: false; reason: CriParseFailure };

/** One row of the table. */
export interface CriCase {
  name: string;
  input: string;
  want: CriWant;
}

/** Epoch seconds of an ISO instant with no fraction, through `Date.parse` (an independent parser). */
function epochSec(iso: string): number {
  const ms = Date.parse(iso);
  if (!Number.isInteger(ms / 1000)) throw new Error(`Bad case timestamp: ${iso}`);
  return ms / 1000;
}

function full(iso: string, timeNanos: number, stream: Stream, body: string): CriWant {
  return { ok: true, timeSec: epochSec(iso), timeNanos, stream, isPartial: false, body };
}

function partial(iso: string, timeNanos: number, stream: Stream, body: string): CriWant {
  return { ok: true, timeSec: epochSec(iso), timeNanos, stream, isPartial: true, body };
}

function fail(reason: CriParseFailure): CriWant {
  return { ok: false, reason };
}

const TS = "2024-05-01T12:34:56.123456789Z";
const TS_SEC = "2024-05-01T12:34:56Z";
const NANOS = 123_456_789;
const INVALID_UTF8_BODY = new TextDecoder().decode(
  Uint8Array.of(0x6f, 0x6b, 0x20, 0xff, 0x20, 0xc3, 0x28, 0x20, 0xe2, 0x82, 0x20, 0xed, 0xa0, 0x80, 0x21),
);
const HUGE_BODY = "x".repeat(1 << 20);

/** Valid lines: every shape of timestamp, stream, tag and body the parser must accept. */
export const VALID_CRI_CASES: readonly CriCase[] = [
  {
    name: "stdout F with a 9-digit fraction",
    input: `${TS} stdout F hello world`,
    want: full(TS_SEC, NANOS, "stdout", "hello world"),
  },
  {
    name: "stderr P piece",
    input: `${TS} stderr P first half`,
    want: partial(TS_SEC, NANOS, "stderr", "first half"),
  },
  {
    name: "1-digit fraction",
    input: "2024-05-01T12:34:56.5Z stdout F a",
    want: full(TS_SEC, 500_000_000, "stdout", "a"),
  },
  {
    name: "fraction with trailing zeros",
    input: "2024-05-01T12:34:56.000000000Z stdout F a",
    want: full(TS_SEC, 0, "stdout", "a"),
  },
  {
    name: "fraction of 1 ns",
    input: "2024-05-01T12:34:56.000000001Z stdout F a",
    want: full(TS_SEC, 1, "stdout", "a"),
  },
  { name: "missing fraction", input: `${TS_SEC} stdout F a`, want: full(TS_SEC, 0, "stdout", "a") },
  {
    name: "offset +05:30 converted to UTC",
    input: "2024-05-01T18:04:56.25+05:30 stdout F a",
    want: full(TS_SEC, 250_000_000, "stdout", "a"),
  },
  {
    name: "offset -08:00 crossing midnight",
    input: "2024-04-30T20:00:00-08:00 stdout F a",
    want: full("2024-05-01T04:00:00Z", 0, "stdout", "a"),
  },
  {
    name: "offset -00:00",
    input: "2024-05-01T12:34:56-00:00 stdout F a",
    want: full(TS_SEC, 0, "stdout", "a"),
  },
  {
    name: "offset +23:59",
    input: "2024-05-01T23:59:00+23:59 stdout F a",
    want: full("2024-05-01T00:00:00Z", 0, "stdout", "a"),
  },
  {
    name: "lowercase t and z",
    input: "2024-05-01t12:34:56z stdout F a",
    want: full(TS_SEC, 0, "stdout", "a"),
  },
  {
    name: "leap day of a leap year",
    input: "2024-02-29T00:00:00Z stdout F a",
    want: full("2024-02-29T00:00:00Z", 0, "stdout", "a"),
  },
  {
    name: "leap day of a 400-year",
    input: "2000-02-29T08:00:00Z stdout F a",
    want: full("2000-02-29T08:00:00Z", 0, "stdout", "a"),
  },
  {
    name: "last nanosecond of a year",
    input: "2023-12-31T23:59:59.999999999Z stdout F a",
    want: full("2023-12-31T23:59:59Z", 999_999_999, "stdout", "a"),
  },
  {
    name: "year 0000, before what OTLP's unsigned nanoseconds hold",
    input: "0000-01-01T00:00:00Z stdout F a",
    want: fail("timestamp_out_of_range"),
  },
  {
    name: "year 9999, past what OTLP's unsigned nanoseconds hold",
    input: "9999-12-31T23:59:59.999999999Z stdout F a",
    want: fail("timestamp_out_of_range"),
  },
  {
    name: "the last second before the epoch",
    input: "1969-12-31T23:59:59Z stdout F a",
    want: fail("timestamp_out_of_range"),
  },
  {
    name: "the epoch reached through a zone offset from the day before",
    input: "1969-12-31T23:00:00-01:00 stdout F a",
    want: full("1970-01-01T00:00:00Z", 0, "stdout", "a"),
  },
  {
    name: "a zone offset that moves the epoch before it",
    input: "1970-01-01T00:00:00+00:01 stdout F a",
    want: fail("timestamp_out_of_range"),
  },
  {
    name: "the last nanosecond OTLP can hold",
    input: "2554-07-21T23:34:33.709551615Z stdout F a",
    want: full("2554-07-21T23:34:33Z", 709_551_615, "stdout", "a"),
  },
  {
    name: "one nanosecond past what OTLP can hold",
    input: "2554-07-21T23:34:33.709551616Z stdout F a",
    want: fail("timestamp_out_of_range"),
  },
  {
    name: "half a second before the epoch",
    input: "1969-12-31T23:59:59.5Z stdout F a",
    want: fail("timestamp_out_of_range"),
  },
  {
    name: "empty body without a trailing space",
    input: `${TS} stdout F`,
    want: full(TS_SEC, NANOS, "stdout", ""),
  },
  {
    name: "empty body with a trailing space",
    input: `${TS} stdout F `,
    want: full(TS_SEC, NANOS, "stdout", ""),
  },
  { name: "empty P piece", input: `${TS} stdout P`, want: partial(TS_SEC, NANOS, "stdout", "") },
  {
    name: "body keeps its leading spaces",
    input: `${TS} stdout F   indented`,
    want: full(TS_SEC, NANOS, "stdout", "  indented"),
  },
  {
    name: "CRLF keeps the carriage return in the body",
    input: `${TS} stdout F hello\r`,
    want: full(TS_SEC, NANOS, "stdout", "hello\r"),
  },
  {
    name: "lone carriage return body",
    input: `${TS} stdout F \r`,
    want: full(TS_SEC, NANOS, "stdout", "\r"),
  },
  { name: "tabs in the body", input: `${TS} stdout F a\tb\t`, want: full(TS_SEC, NANOS, "stdout", "a\tb\t") },
  {
    name: "multibyte body",
    input: `${TS} stdout F 日本語 ✓ 🚀 é`,
    want: full(TS_SEC, NANOS, "stdout", "日本語 ✓ 🚀 é"),
  },
  {
    name: "invalid UTF-8 replaced by U+FFFD in the body",
    input: `${TS} stdout F ${INVALID_UTF8_BODY}`,
    want: full(TS_SEC, NANOS, "stdout", INVALID_UTF8_BODY),
  },
  {
    name: "control characters in the body",
    input: `${TS} stderr F \u0000\u001b[31mred\u001b[0m`,
    want: full(TS_SEC, NANOS, "stderr", "\u0000\u001b[31mred\u001b[0m"),
  },
  {
    name: "JSON body",
    input: `${TS} stdout F {"level":"info","msg":"step 10","loss":0.25}`,
    want: full(TS_SEC, NANOS, "stdout", `{"level":"info","msg":"step 10","loss":0.25}`),
  },
  {
    name: "body that looks like a CRI header",
    input: `${TS} stdout F ${TS} stderr P x`,
    want: full(TS_SEC, NANOS, "stdout", `${TS} stderr P x`),
  },
  { name: "huge body", input: `${TS} stdout F ${HUGE_BODY}`, want: full(TS_SEC, NANOS, "stdout", HUGE_BODY) },
  {
    name: "tag P with more flags is partial",
    input: `${TS} stdout P:foo body`,
    want: partial(TS_SEC, NANOS, "stdout", "body"),
  },
  {
    name: "tag F with more flags is full",
    input: `${TS} stdout F:x body`,
    want: full(TS_SEC, NANOS, "stdout", "body"),
  },
  {
    name: "tag with flags and no body",
    input: `${TS} stdout P:x:y`,
    want: partial(TS_SEC, NANOS, "stdout", ""),
  },
  {
    name: "tag with an empty flag list",
    input: `${TS} stdout P: body`,
    want: partial(TS_SEC, NANOS, "stdout", "body"),
  },
  {
    name: "unknown uppercase flag is full",
    input: `${TS} stdout X body`,
    want: full(TS_SEC, NANOS, "stdout", "body"),
  },
  {
    name: "multi-letter flag starting with P is full",
    input: `${TS} stdout PX body`,
    want: full(TS_SEC, NANOS, "stdout", "body"),
  },
];

/** Invalid lines, one per way a header can be wrong. */
export const INVALID_CRI_CASES: readonly CriCase[] = [
  { name: "empty line", input: "", want: fail("empty_line") },
  { name: "only spaces", input: "    ", want: fail("malformed_timestamp") },
  { name: "plain text", input: "hello world, this is not a CRI line", want: fail("malformed_timestamp") },
  { name: "leap second 60", input: "2016-12-31T23:59:60Z stdout F a", want: fail("malformed_timestamp") },
  { name: "month 00", input: "2024-00-10T00:00:00Z stdout F a", want: fail("malformed_timestamp") },
  { name: "month 13", input: "2024-13-10T00:00:00Z stdout F a", want: fail("malformed_timestamp") },
  { name: "day 00", input: "2024-01-00T00:00:00Z stdout F a", want: fail("malformed_timestamp") },
  { name: "day 32", input: "2024-01-32T00:00:00Z stdout F a", want: fail("malformed_timestamp") },
  { name: "April 31", input: "2024-04-31T00:00:00Z stdout F a", want: fail("malformed_timestamp") },
  {
    name: "February 29 of a common year",
    input: "2023-02-29T00:00:00Z stdout F a",
    want: fail("malformed_timestamp"),
  },
  {
    name: "February 29 of a century year",
    input: "1900-02-29T00:00:00Z stdout F a",
    want: fail("malformed_timestamp"),
  },
  { name: "hour 24", input: "2024-01-01T24:00:00Z stdout F a", want: fail("malformed_timestamp") },
  { name: "minute 60", input: "2024-01-01T00:60:00Z stdout F a", want: fail("malformed_timestamp") },
  { name: "second 99", input: "2024-01-01T00:00:99Z stdout F a", want: fail("malformed_timestamp") },
  {
    name: "fraction dot without digits",
    input: "2024-01-01T00:00:00.Z stdout F a",
    want: fail("malformed_timestamp"),
  },
  {
    name: "10-digit fraction",
    input: "2024-01-01T00:00:00.1234567890Z stdout F a",
    want: fail("malformed_timestamp"),
  },
  { name: "no zone", input: "2024-01-01T00:00:00 stdout F a", want: fail("malformed_timestamp") },
  {
    name: "no zone at the end of the line",
    input: "2024-01-01T00:00:00.123",
    want: fail("malformed_timestamp"),
  },
  {
    name: "offset hour 24",
    input: "2024-01-01T00:00:00+24:00 stdout F a",
    want: fail("malformed_timestamp"),
  },
  {
    name: "offset minute 60",
    input: "2024-01-01T00:00:00+05:60 stdout F a",
    want: fail("malformed_timestamp"),
  },
  {
    name: "offset without colon",
    input: "2024-01-01T00:00:00+0530 stdout F a",
    want: fail("malformed_timestamp"),
  },
  { name: "offset cut short", input: "2024-01-01T00:00:00+05:", want: fail("malformed_timestamp") },
  { name: "space instead of T", input: "2024-01-01 00:00:00Z stdout F a", want: fail("malformed_timestamp") },
  { name: "two-digit year", input: "24-01-01T00:00:00Z stdout F a", want: fail("malformed_timestamp") },
  {
    name: "non-ASCII digits",
    input: "２０２４-01-01T00:00:00Z stdout F a",
    want: fail("malformed_timestamp"),
  },
  {
    name: "junk after the zone",
    input: "2024-01-01T00:00:00Zx stdout F a",
    want: fail("malformed_timestamp"),
  },
  {
    name: "tab after the timestamp",
    input: "2024-01-01T00:00:00Z\tstdout F a",
    want: fail("malformed_timestamp"),
  },
  {
    name: "NUL characters in place of the date",
    input: `${"\u0000".repeat(16)}:00Z stdout F a`,
    want: fail("malformed_timestamp"),
  },
  {
    name: "line cut short inside the timestamp",
    input: "2024-01-01T00:0",
    want: fail("malformed_timestamp"),
  },
  { name: "only a timestamp", input: "2024-01-01T00:00:00Z", want: fail("missing_separator") },
  {
    name: "only a timestamp with an offset",
    input: "2024-01-01T00:00:00.5+01:00",
    want: fail("missing_separator"),
  },
  { name: "timestamp and a space", input: "2024-01-01T00:00:00Z ", want: fail("bad_stream") },
  {
    name: "two spaces before the stream",
    input: "2024-01-01T00:00:00Z  stdout F a",
    want: fail("bad_stream"),
  },
  { name: "stream stdin", input: "2024-01-01T00:00:00Z stdin F a", want: fail("bad_stream") },
  { name: "uppercase stream", input: "2024-01-01T00:00:00Z STDOUT F a", want: fail("bad_stream") },
  { name: "stream with a suffix", input: "2024-01-01T00:00:00Z stdoutx F a", want: fail("bad_stream") },
  { name: "stream cut short", input: "2024-01-01T00:00:00Z std", want: fail("bad_stream") },
  { name: "no tag after the stream", input: "2024-01-01T00:00:00Z stdout", want: fail("missing_separator") },
  { name: "empty tag at the end", input: "2024-01-01T00:00:00Z stdout ", want: fail("bad_tag") },
  { name: "empty tag before a body", input: "2024-01-01T00:00:00Z stderr  body", want: fail("bad_tag") },
  { name: "lowercase tag", input: "2024-01-01T00:00:00Z stdout f a", want: fail("bad_tag") },
  { name: "digit in the tag", input: "2024-01-01T00:00:00Z stdout P1 a", want: fail("bad_tag") },
  { name: "tab after the tag", input: "2024-01-01T00:00:00Z stdout F\tbody", want: fail("bad_tag") },
  {
    name: "carriage return right after the tag",
    input: "2024-01-01T00:00:00Z stdout F\r",
    want: fail("bad_tag"),
  },
];

/** Every case. */
export const CRI_CASES: readonly CriCase[] = [...VALID_CRI_CASES, ...INVALID_CRI_CASES];
