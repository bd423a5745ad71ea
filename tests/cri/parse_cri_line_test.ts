import assert from "node:assert/strict";
import fc from "fast-check";
import { type CriParseFailure, type CriParseResult, parseCriLine } from "../../src/cri/mod.ts";
import { assertProperty } from "../_helpers/property.ts";
import { CRI_CASES, type CriWant } from "./cri_cases.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Parses the UTF-8 bytes of `line` (lone surrogates become U+FFFD first, as any writer would). */
function parseText(line: string): CriParseResult {
  return parseCriLine(encoder.encode(line));
}

/** `line` as it reads back from its UTF-8 bytes. */
function wellFormed(line: string): string {
  return decoder.decode(encoder.encode(line));
}

/** The parser's result in the table's shape (the body instead of its byte index). */
function toWant(line: string, result: CriParseResult): CriWant {
  if (!result.ok) return { ok: false, reason: result.reason };
  const { timeSec, timeNanos, stream, isPartial, bodyStart } = result;
  const body = decoder.decode(encoder.encode(line).subarray(bodyStart));
  return { ok: true, timeSec, timeNanos, stream, isPartial, body };
}

for (const { name, input, want } of CRI_CASES) {
  Deno.test(`parseCriLine handles ${name}`, () => {
    const result = parseText(input);
    assert.deepEqual(toWant(input, result), want);
    if (result.ok) {
      assert.ok(Number.isInteger(result.timeSec), `timeSec ${result.timeSec} is not an integer`);
      const bytes = encoder.encode(input).length;
      assert.equal(result.bodyStart, bytes - (want.ok ? encoder.encode(want.body).length : 0));
    }
  });
}

// A reference parser written for clarity, not speed: regexes for the syntax, Date for the calendar.
// The property tests hold the fast scanner to it.
const TIMESTAMP_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const TAG_RE = /^[A-Z]+(:[^ ]*)?$/;

function referenceTime(token: string): { timeSec: number; timeNanos: number } | undefined {
  const m = TIMESTAMP_RE.exec(token);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  const isRealDate = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day && date.getUTCHours() === hour && date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second;
  const offsetHours = Number(m[10] ?? 0);
  const offsetMinutes = Number(m[11] ?? 0);
  if (!isRealDate || offsetHours > 23 || offsetMinutes > 59) return undefined;
  const offsetSec = (m[9] === "-" ? -1 : 1) * (offsetHours * 3600 + offsetMinutes * 60);
  const timeNanos = m[7] === undefined ? 0 : Number(m[7].padEnd(9, "0"));
  return { timeSec: date.getTime() / 1000 - offsetSec, timeNanos };
}

function referenceParse(line: string): CriWant {
  if (line === "") return { ok: false, reason: "empty_line" };
  const [timestamp, afterTimestamp] = splitField(line);
  const time = referenceTime(timestamp);
  if (time === undefined) return { ok: false, reason: "malformed_timestamp" };
  if (afterTimestamp === undefined) return { ok: false, reason: "missing_separator" };
  const [stream, afterStream] = splitField(afterTimestamp);
  if (stream !== "stdout" && stream !== "stderr") return { ok: false, reason: "bad_stream" };
  if (afterStream === undefined) return { ok: false, reason: "missing_separator" };
  const ns = BigInt(time.timeSec) * 1_000_000_000n + BigInt(time.timeNanos);
  if (ns < 0n || ns >= 2n ** 64n) return { ok: false, reason: "timestamp_out_of_range" };
  const [tag, body] = splitField(afterStream);
  if (!TAG_RE.test(tag)) return { ok: false, reason: "bad_tag" };
  return { ok: true, ...time, stream, isPartial: tag.split(":")[0] === "P", body: body ?? "" };
}

/** The text before the first space, and the rest after it (undefined when there is no space). */
function splitField(text: string): [string, string | undefined] {
  const space = text.indexOf(" ");
  return space < 0 ? [text, undefined] : [text.slice(0, space), text.slice(space + 1)];
}

Deno.test("reference parser agrees with the case table", () => {
  for (const { name, input, want } of CRI_CASES) assert.deepEqual(referenceParse(input), want, name);
});

Deno.test("parseCriLine rejects a line whose minute prefix matches the previous valid line", () => {
  const rows: { input: string; want: CriParseFailure | "ok" }[] = [
    { input: "2024-01-01T00:00:00Z stdout F a", want: "ok" },
    { input: "2024-01-01T00:00:60Z stdout F a", want: "malformed_timestamp" },
    { input: "2024-01-01T00:00:0xZ stdout F a", want: "malformed_timestamp" },
    { input: "2024-01-01T00:00", want: "malformed_timestamp" },
    { input: "2024-01-01T00:00:59.1Z stdout F a", want: "ok" },
    { input: "2024-01-01T00:01:00Z stdout F a", want: "ok" },
    { input: "2024-01-01T00:00:00Z stdout F a", want: "ok" },
  ];
  for (const { input, want } of rows) {
    const result = parseText(input);
    assert.equal(result.ok ? "ok" : result.reason, want, input);
    assert.deepEqual(toWant(input, result), referenceParse(input), input);
  }
});

const TIMESTAMP_CHARS = "0123456789-:.TtZz+ ";

/** Strings that often look like a header: timestamp characters, spaces, stream and tag words. */
const headerLikeArb: fc.Arbitrary<string> = fc.array(
  fc.oneof(
    fc.constantFrom(..."0123456789-:.TtZz+ PF"),
    fc.constantFrom(
      "2024-",
      "02-29",
      "T23:59:",
      "59",
      ".5",
      "Z",
      "+05:30",
      " stdout ",
      " stderr ",
      "P",
      "F:x",
    ),
    fc.string({ unit: "binary", maxLength: 3 }),
  ),
  { maxLength: 30 },
).map((parts) => parts.join(""));

Deno.test("parseCriLine is total and agrees with the reference on arbitrary strings", () => {
  assertProperty(
    fc.property(
      fc.oneof(fc.string({ unit: "binary", maxLength: 80 }), fc.string({ maxLength: 80 }), headerLikeArb),
      (line) => {
        assert.deepEqual(toWant(line, parseText(line)), referenceParse(wellFormed(line)));
      },
    ),
    3000,
  );
});

interface LineParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  fraction: string;
  zone: string;
  stream: string;
  tag: string;
  body: string;
}

const pad = (n: number, width: number): string => String(n).padStart(width, "0");

function formatLine(p: LineParts): string {
  const date = `${pad(p.year, 4)}-${pad(p.month, 2)}-${pad(p.day, 2)}`;
  const time = `${pad(p.hour, 2)}:${pad(p.minute, 2)}:${pad(p.second, 2)}${p.fraction}`;
  return `${date}T${time}${p.zone} ${p.stream} ${p.tag} ${p.body}`;
}

const zoneArb = (maxHour: number, maxMinute: number): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constant("Z"),
    fc.tuple(
      fc.constantFrom("+", "-"),
      fc.integer({ min: 0, max: maxHour }),
      fc.integer({ min: 0, max: maxMinute }),
    )
      .map(([sign, h, m]) => `${sign}${pad(h, 2)}:${pad(m, 2)}`),
  );

const validPartsArb: fc.Arbitrary<LineParts> = fc.record({
  year: fc.integer({ min: 1971, max: 2553 }),
  month: fc.integer({ min: 1, max: 12 }),
  day: fc.integer({ min: 1, max: 28 }),
  hour: fc.integer({ min: 0, max: 23 }),
  minute: fc.integer({ min: 0, max: 59 }),
  second: fc.integer({ min: 0, max: 59 }),
  fraction: fc.oneof(fc.constant(""), fc.stringMatching(/^\.\d{1,9}$/)),
  zone: zoneArb(23, 59),
  stream: fc.constantFrom("stdout", "stderr"),
  tag: fc.constantFrom("F", "P", "P:x", "F:a:b", "X"),
  body: fc.string({ unit: "binary", maxLength: 40 }),
});

Deno.test("parseCriLine reads the instant, stream and body of any valid line", () => {
  assertProperty(
    fc.property(validPartsArb, (parts) => {
      const line = formatLine(parts);
      const result = parseText(line);
      assert.ok(result.ok, `${JSON.stringify(line)} gave ${JSON.stringify(result)}`);
      const [, sign, offsetHours, offsetMinutes] = /^([+-])(\d\d):(\d\d)$/.exec(parts.zone) ?? [];
      const offsetSec = sign === undefined
        ? 0
        : (sign === "-" ? -1 : 1) * (Number(offsetHours) * 3600 + Number(offsetMinutes) * 60);
      const localMs = new Date(0).setUTCFullYear(parts.year, parts.month - 1, parts.day) +
        ((parts.hour * 60 + parts.minute) * 60 + parts.second) * 1000;
      assert.equal(result.timeSec, localMs / 1000 - offsetSec);
      assert.equal(
        result.timeNanos,
        parts.fraction === "" ? 0 : Number(parts.fraction.slice(1).padEnd(9, "0")),
      );
      assert.equal(result.stream, parts.stream);
      assert.equal(result.isPartial, parts.tag.startsWith("P"));
      assert.equal(decoder.decode(encoder.encode(line).subarray(result.bodyStart)), wellFormed(parts.body));
    }),
    2000,
  );
});

/** Lines near the edge of validity: every field may be just out of range. */
const edgePartsArb: fc.Arbitrary<LineParts> = fc.record({
  year: fc.integer({ min: 0, max: 9999 }),
  month: fc.integer({ min: 0, max: 13 }),
  day: fc.integer({ min: 0, max: 32 }),
  hour: fc.integer({ min: 0, max: 24 }),
  minute: fc.integer({ min: 0, max: 60 }),
  second: fc.integer({ min: 0, max: 60 }),
  fraction: fc.oneof(fc.constant(""), fc.stringMatching(/^\.\d{0,10}$/)),
  zone: zoneArb(24, 60),
  stream: fc.constantFrom("stdout", "stderr", "stdin", ""),
  tag: fc.constantFrom("F", "P", "P:x y", "", "f", "PX", "P1"),
  body: fc.string({ unit: "binary", maxLength: 20 }),
});

type Mutation = { kind: "replace" | "insert" | "delete" | "cut" | "cut_at_space"; at: number; char: string };

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom("replace", "insert", "delete", "cut", "cut_at_space"),
  at: fc.nat({ max: 45 }),
  char: fc.oneof(
    fc.constantFrom(...TIMESTAMP_CHARS),
    fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
  ),
});

/** Index of the n-th (from 0) `needle` in `text`, or `text.length`. */
function nthIndexOf(text: string, needle: string, n: number): number {
  let i = -1;
  for (let k = 0; k <= n; k++) {
    i = text.indexOf(needle, i + 1);
    if (i < 0) return text.length;
  }
  return i;
}

function mutate(line: string, mutations: Mutation[]): string {
  let out = line;
  for (const { kind, at, char } of mutations) {
    const i = Math.min(at, out.length);
    if (kind === "replace") out = out.slice(0, i) + char + out.slice(i + 1);
    else if (kind === "insert") out = out.slice(0, i) + char + out.slice(i);
    else if (kind === "delete") out = out.slice(0, i) + out.slice(i + 1);
    else if (kind === "cut") out = out.slice(0, i);
    else out = out.slice(0, nthIndexOf(out, " ", at % 3));
  }
  return out;
}

Deno.test("parseCriLine agrees with the reference on mutated valid lines", () => {
  const seen = new Map<string, number>();
  assertProperty(
    fc.property(
      fc.oneof(validPartsArb, edgePartsArb),
      fc.array(mutationArb, { maxLength: 2 }),
      (parts, mutations) => {
        const line = mutate(formatLine(parts), mutations);
        const result = parseText(line);
        const outcome = result.ok ? "ok" : result.reason;
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
        assert.deepEqual(toWant(line, result), referenceParse(wellFormed(line)));
      },
    ),
    5000,
  );
  // The generator must reach every outcome, or the property says little.
  for (const outcome of ["ok", "malformed_timestamp", "bad_stream", "bad_tag", "missing_separator"]) {
    assert.ok(
      (seen.get(outcome) ?? 0) >= 20,
      `Generator produced too few ${outcome}: ${JSON.stringify([...seen])}`,
    );
  }
});

Deno.test("parseCriLine finds the body at a byte offset whatever bytes follow the tag's colon", () => {
  const head = encoder.encode("2024-05-01T12:34:56.5Z stdout P:");
  assertProperty(
    fc.property(
      fc.uint8Array({ maxLength: 24 }),
      fc.uint8Array({ maxLength: 24 }),
      fc.nat({ max: 8 }),
      (flags, body, pad) => {
        const line = new Uint8Array(pad + head.length + flags.length + 1 + body.length);
        const start = pad;
        line.set(head, start);
        line.set(flags, start + head.length);
        const spaceAt = start + head.length + flags.length;
        line[spaceAt] = 32;
        line.set(body, spaceAt + 1);
        const result = parseCriLine(line, start, line.length);
        assert.ok(result.ok, JSON.stringify(result));
        const firstSpace = line.indexOf(32, start + head.length);
        assert.equal(
          result.bodyStart,
          firstSpace + 1,
          "the body starts after the first space past the colon",
        );
        if (!flags.includes(32)) assert.deepEqual(line.subarray(result.bodyStart), body);
        assert.equal(result.isPartial, true);
      },
    ),
    2000,
  );
});

Deno.test("parseCriLine reads only the bytes between start and end", () => {
  const text = "junk2024-05-01T12:34:56Z stderr F bodyTAIL";
  const bytes = encoder.encode(text);
  const result = parseCriLine(bytes, 4, bytes.length - 4);
  assert.ok(result.ok);
  assert.equal(decoder.decode(bytes.subarray(result.bodyStart, bytes.length - 4)), "body");
});

Deno.test("parseCriLine inside a larger buffer gives what it gives on the line alone, whatever surrounds it", () => {
  // Bytes a parser reading past `end` would take for more of the line: digits, zone, stream, tag.
  const surroundArb = fc.array(fc.constantFrom(...encoder.encode("0123456789.:+-Z stdouterrPF\n")), {
    maxLength: 12,
  }).map((bytes) => Uint8Array.from(bytes));
  assertProperty(
    fc.property(
      fc.oneof(validPartsArb, edgePartsArb),
      fc.array(mutationArb, { maxLength: 2 }),
      fc.oneof(fc.constant(Infinity), fc.nat({ max: 48 })),
      surroundArb,
      surroundArb,
      (parts, mutations, keep, before, after) => {
        // Often cut inside the header: a line may end after any prefix of a valid header.
        const whole = encoder.encode(mutate(formatLine(parts), mutations));
        const line = whole.subarray(0, Math.min(whole.length, keep));
        // What follows `end` is the rest of the line itself (the likeliest bytes to be misread), then junk.
        const rest = whole.subarray(line.length);
        const buf = new Uint8Array(before.length + whole.length + after.length);
        buf.set(before, 0);
        buf.set(whole, before.length);
        buf.set(after, before.length + whole.length);
        if (rest.length === 0) buf.set(after, before.length + line.length);
        const alone = parseCriLine(line.slice());
        const inside = parseCriLine(buf, before.length, before.length + line.length);
        assert.deepEqual(
          inside.ok ? { ...inside, bodyStart: inside.bodyStart - before.length } : inside,
          alone,
        );
      },
    ),
    3000,
  );
});
