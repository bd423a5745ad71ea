import assert from "node:assert/strict";
import fc from "fast-check";
import { EncodedAnyValue, encodeLogsRequest } from "../../src/export/mod.ts";
import { JsonTranscoder } from "../../src/extract/_json_transcode.ts";
import { parseJsonBody } from "../../src/extract/json_body.ts";
import { type AttrValue, type LogRecord, ReadTurns } from "../../src/record.ts";
import { assertProperty } from "../_helpers/property.ts";

// The transcoder must equal the JSON.parse path wherever it accepts a body: the same kvlist on the
// wire, the same severity and time. The wire bytes are compared as whole requests from the encoder.

const utf8 = new TextEncoder();
const lossy = new TextDecoder("utf-8", { ignoreBOM: true });

function requestWithBody(body: AttrValue): Uint8Array {
  const record: LogRecord = {
    hrTime: [1, 0],
    hrTimeObserved: [2, 0],
    body,
    attributes: {},
    droppedAttributesCount: 0,
    resource: { attributes: {} },
    instrumentationScope: { name: "t", version: "0" },
  };
  return encodeLogsRequest([record]);
}

/** Checks one body against the JSON.parse path; returns whether the transcoder accepted it. */
function checkAgainstParse(
  transcoder: JsonTranscoder,
  bytes: Uint8Array,
  maxDepth: number,
  maxKeys: number,
): boolean {
  const fast = transcoder.transcode(bytes, maxDepth, maxKeys);
  if (fast === null) return false;
  const text = lossy.decode(bytes);
  assert.ok(!text.includes("\uFFFD"), "accepted a body the stage skips as invalid_utf8");
  const slow = parseJsonBody(text, { maxDepth, maxKeys });
  assert.ok(slow.ok, `accepted a body JSON.parse refuses: ${text}`);
  assert.equal(slow.cutDepth, 0, `accepted a body the other path cuts: ${text}`);
  assert.equal(slow.cutKeys, 0, `accepted a body the other path cuts: ${text}`);
  assert.deepEqual(requestWithBody(fast.value), requestWithBody(slow.fields), `kvlist differs for ${text}`);
  assert.deepEqual(fast.severity, slow.severity, `severity differs for ${text}`);
  assert.deepEqual(fast.time, slow.time, `time differs for ${text}`);
  assert.equal(fast.keptLevel, slow.keptLevel, `keptLevel differs for ${text}`);
  assert.equal(fast.keptTime, slow.keptTime, `keptTime differs for ${text}`);
  return true;
}

// ---- generated JSON text, token by token -------------------------------------------------------

const blank = fc.constantFrom("", "", "", " ", "\t", "\n ", "\r\n");

const stringContent = fc.oneof(
  { weight: 8, arbitrary: fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s).slice(1, -1)) },
  {
    weight: 1,
    arbitrary: fc.string({ unit: "binary", maxLength: 12 }).map((s) => JSON.stringify(s).slice(1, -1)),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "info",
      "WARN",
      "Error",
      "debug",
      "fatal",
      "30",
      "2026-12-04T21:00:00.123456789Z",
      "2026-12-04 21:00:00+01:00",
      "not a time",
      "caf\u00e9",
      "\u00e9t\u00e9",
      "\\u00e9",
      "\\ud83d\\ude00",
      "\\ud800",
      "\\udc00x",
      '\\/\\b\\f\\n\\r\\t\\"\\\\',
      "\\u0000",
      "\uFFFD",
      "\\uFFFD",
      "\u{1d49c}",
      "\\x",
      "a".repeat(200),
    ),
  },
);
const quoted = stringContent.map((s) => `"${s}"`);
const key = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      "level",
      "severity",
      "lvl",
      "time",
      "ts",
      "timestamp",
      "msg",
      "a",
      "b",
      "__proto__",
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "0",
      "12",
      "01",
      "-1",
      "",
      "l\\u0065vel",
    ),
  },
  { weight: 1, arbitrary: stringContent },
).map((k) => `"${k}"`);
const numberToken = fc.oneof(
  { weight: 3, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "1.0",
      "-0",
      "0.0",
      "-0.0",
      "1e3",
      "1E+2",
      "-1.5e-3",
      "1e400",
      "9007199254740993",
      "18446744073709551616",
      "-9223372036854775808",
      "9223372036854775807",
      "9223372036854775808",
      "12345678901234567.5",
      "123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
      "0.1e1",
      "1.5e-22",
      "123456789.12345e-30",
      "4.35",
      "0.00025",
      "-1e22",
      "1e23",
      "8.98846567431158e307",
      "1.00000000000000001",
      "0.30000000000000004",
      "1796418000",
      "1796418000123",
      "1796418000123456",
      "1796418000123456789",
      "1796418000.5",
      "1796418000.0",
      "30",
      "30.0",
      "3e1",
      "01",
      "1.",
      "-",
      ".5",
    ),
  },
);
const literal = fc.constantFrom("true", "false", "null", "nul", "True");

const { value } = fc.letrec<{ value: string; object: string; array: string }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 4, depthIdentifier: "json" },
    { weight: 4, arbitrary: quoted },
    { weight: 3, arbitrary: numberToken },
    { weight: 1, arbitrary: literal },
    { weight: 1, arbitrary: tie("object") },
    { weight: 1, arbitrary: tie("array") },
  ),
  object: fc.array(fc.tuple(blank, key, blank, blank, tie("value"), blank), { maxLength: 6 }).map((entries) =>
    `{${entries.map(([b1, k, b2, b3, v, b4]) => `${b1}${k}${b2}:${b3}${v}${b4}`).join(",")}}`
  ),
  array: fc.array(fc.tuple(blank, tie("value"), blank), { maxLength: 4 }).map((items) =>
    `[${items.map(([b1, v, b2]) => `${b1}${v}${b2}`).join(",")}]`
  ),
}));

/** A top-level object text, sometimes damaged: a raw byte put in, a tail added, or the end cut. */
const body = fc.tuple(
  blank,
  fc.array(fc.tuple(key, blank, value), { maxLength: 8 }),
  blank,
  fc.oneof(
    { weight: 20, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })) },
    { weight: 1, arbitrary: fc.constantFrom("x", " tail", "}", ",") },
    { weight: 1, arbitrary: fc.nat() },
  ),
).map(([lead, entries, trail, damage]) => {
  const text = `${lead}{${entries.map(([k, b, v]) => `${k}:${b}${v}`).join(",")}}${trail}`;
  let bytes = utf8.encode(text);
  if (typeof damage === "string") bytes = utf8.encode(text + damage);
  else if (typeof damage === "number") bytes = bytes.subarray(0, damage % (bytes.length + 1));
  else if (damage !== null) {
    const at = damage[0] % (bytes.length + 1);
    const out = new Uint8Array(bytes.length + 1);
    out.set(bytes.subarray(0, at));
    out[at] = damage[1];
    out.set(bytes.subarray(at), at + 1);
    bytes = out;
  }
  return bytes;
});

Deno.test("transcoder equals the JSON.parse path on every body it accepts (property)", () => {
  const transcoder = new JsonTranscoder();
  let accepted = 0;
  let runs = 0;
  assertProperty(
    fc.property(
      body,
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 4, max: 128 }),
      (bytes, depth, keys) => {
        runs++;
        if (checkAgainstParse(transcoder, bytes, depth, keys)) accepted++;
      },
    ),
    5000,
  );
  // The property says nothing if nearly everything is declined.
  assert.ok(accepted > runs / 5, `only ${accepted} of ${runs} bodies took the fast path`);
});

// ---- what it accepts and what it declines --------------------------------------------------------

const ACCEPTED: string[] = [
  '{"level":"info","logger":"trainer","step":12,"rank":3,"loss":1.2345,"msg":"caf\u00e9 \u4e2d"}',
  '{"ts":1796418000.25,"level":"warn","msg":"x"}',
  '{"msg":"tab\\there \\"quoted\\" \\u00e9 \\ud83d\\ude00","time":"2026-12-04T21:00:00Z"}',
  '{"lvl":"bogus","time":"yesterday","n":null,"ok":true,"no":false}',
  '{"nested":{"a":[1,2.5,{"b":"c"}],"e":{}},"arr":[]}',
  '{"big":9007199254740993,"huge":18446744073709551616,"neg":-9223372036854775808}',
  '{"one":1.0,"exp":1e3,"negzero":-0,"fzero":-0.0}',
  '{"__proto__":{"x":1},"level":30}',
  ' \t{ "a" : "b" } \r\n',
  "{}",
  `{"msg":"${"long ".repeat(60)}","level":"error"}`,
];

for (const text of ACCEPTED) {
  Deno.test(`transcoder accepts and matches JSON.parse: ${text.slice(0, 60)}`, () => {
    assert.ok(checkAgainstParse(new JsonTranscoder(), utf8.encode(text), 8, 128));
  });
}

const DECLINED: [name: string, text: string | Uint8Array][] = [
  ["a duplicate key", '{"a":1,"b":2,"a":3}'],
  ["a duplicate nested key", '{"o":{"k":1,"k":2}}'],
  ["an integer-like key", '{"b":1,"10":2}'],
  ["an escaped key", '{"l\\u0065vel":"info"}'],
  ["a lone surrogate escape", '{"a":"\\ud800"}'],
  ["a U+FFFD", '{"a":"\uFFFD"}'],
  ["invalid UTF-8", Uint8Array.of(0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x22, 0x7d)],
  ["a raw control character", '{"a":"x\ty"}'],
  ["trailing text", '{"a":1} tail'],
  ["a cut body", '{"a":"b'],
  ["an array", "[1,2]"],
  ["a bad number", '{"a":01}'],
  ["a level written 30.0", '{"level":30.0}'],
  ["a nanosecond integer time", '{"ts":1796418000123456789}'],
  ["a non-ASCII level", '{"level":"\u00e9"}'],
];

for (const [name, text] of DECLINED) {
  Deno.test(`transcoder declines ${name}`, () => {
    const bytes = typeof text === "string" ? utf8.encode(text) : text;
    assert.equal(new JsonTranscoder().transcode(bytes, 8, 128), null);
  });
}

Deno.test("transcoder handles bodies of any size across its output chunks, each one left intact", () => {
  const transcoder = new JsonTranscoder();
  const kept: [Uint8Array, Uint8Array][] = [];
  // Sizes around and past the 64 KiB output chunk, odd and even, so chunks roll over at every offset.
  for (const size of [1, 7, 100, 21_000, 21_845, 21_846, 30_001, 65_535, 65_536, 100_003, 3, 250_000, 5]) {
    const body = utf8.encode(`{"level":"info","msg":"${"x".repeat(size)}","n":${size}}`);
    assert.ok(checkAgainstParse(transcoder, body, 8, 128), `size ${size}`);
    const result = transcoder.transcode(body, 8, 128);
    assert.ok(result !== null);
    kept.push([result.value.bytes, result.value.bytes.slice()]);
  }
  // Later bodies never wrote over the bytes of earlier ones.
  for (const [view, copy] of kept) assert.deepEqual(view, copy);
});

Deno.test("transcoder declines an object of more than 64 keys, which JSON.parse takes in linear time", () => {
  const keys = (n: number) => `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(",")}}`;
  assert.ok(checkAgainstParse(new JsonTranscoder(), utf8.encode(keys(64)), 8, 100_000));
  assert.equal(new JsonTranscoder().transcode(utf8.encode(keys(65)), 8, 100_000), null);
  assert.equal(new JsonTranscoder().transcode(utf8.encode(keys(50_000)), 8, 100_000), null);
});

Deno.test("transcoder declines bodies past the key and depth limits, which the other path cuts", () => {
  const transcoder = new JsonTranscoder();
  assert.equal(transcoder.transcode(utf8.encode('{"a":1,"b":[1,2]}'), 8, 3), null);
  assert.notEqual(transcoder.transcode(utf8.encode('{"a":1,"b":[1,2]}'), 8, 4), null);
  assert.equal(transcoder.transcode(utf8.encode('{"a":{"b":{}}}'), 2, 128), null);
  assert.notEqual(transcoder.transcode(utf8.encode('{"a":{"b":{}}}'), 3, 128), null);
});

Deno.test("transcoder takes out the well-known keys that set a field, wherever they stand", () => {
  const transcoder = new JsonTranscoder();
  const result = transcoder.transcode(
    utf8.encode('{"msg":"m","time":"2026-12-04T21:00:00.5Z","level":"ERROR","lvl":"debug","n":1}'),
    8,
    128,
  );
  assert.ok(result !== null);
  assert.deepEqual(result.severity, { severityNumber: 17, severityText: "ERROR" });
  assert.deepEqual(result.time, [1796418000, 500000000]);
  // "level" sets the severity; "lvl" after it stays a field like any other.
  assert.deepEqual(requestWithBody(result.value), requestWithBody({ msg: "m", lvl: "debug", n: 1 }));
  assert.ok(result.value instanceof EncodedAnyValue);
});

Deno.test("transcoder declines a well-known key that the other path looks at first, after one that decided", () => {
  // "level" outranks "lvl", which already set the severity and left the kvlist.
  const text = '{"lvl":"debug","level":"ERROR"}';
  assert.equal(new JsonTranscoder().transcode(utf8.encode(text), 8, 128), null);
  assert.ok(
    checkAgainstParse(new JsonTranscoder(), utf8.encode('{"lvl":"bogus","level":"ERROR"}'), 8, 128) === false,
  );
});

Deno.test("transcoder reuses its output buffers from the next read turn on, and only then", () => {
  const turns = new ReadTurns();
  const transcoder = new JsonTranscoder(turns);
  const body = (i: number): Uint8Array => utf8.encode(JSON.stringify({ i, msg: "x".repeat(200 + (i % 50)) }));
  // One turn writes more than one output buffer (64 KiB): every body of the turn stays intact to its end.
  const firstTurn: { bytes: Uint8Array; copy: Uint8Array }[] = [];
  for (let i = 0; i < 600; i++) {
    const bytes = (transcoder.transcode(body(i), 10, 100)!.value as EncodedAnyValue).bytes;
    firstTurn.push({ bytes, copy: bytes.slice() });
  }
  const firstBuffers = new Set(firstTurn.map((b) => b.bytes.buffer));
  assert.ok(firstBuffers.size >= 2, `600 bodies of ~250 B fill more than one buffer (${firstBuffers.size})`);
  for (const { bytes, copy } of firstTurn) assert.deepEqual(bytes, copy);
  // The next turn: the earlier turn's buffers are written again (no new allocation).
  turns.next();
  const nextTurn = (transcoder.transcode(body(2), 10, 100)!.value as EncodedAnyValue).bytes;
  assert.ok(firstBuffers.has(nextTurn.buffer), "a buffer of the earlier turn is reused");
  assert.equal(nextTurn.byteOffset, 0);
});

Deno.test("transcoder without read turns leaves every buffer to the bodies that view it", () => {
  const transcoder = new JsonTranscoder();
  const kept: { bytes: Uint8Array; copy: Uint8Array }[] = [];
  for (let i = 0; i < 600; i++) {
    const src = utf8.encode(JSON.stringify({ i, msg: "y".repeat(300) }));
    const bytes = (transcoder.transcode(src, 10, 100)!.value as EncodedAnyValue).bytes;
    kept.push({ bytes, copy: bytes.slice() });
  }
  for (const { bytes, copy } of kept) assert.deepEqual(bytes, copy);
});
