import assert from "node:assert/strict";
import fc from "fast-check";
import { EncodedAnyValue, encodeLogsRequest } from "../../src/export/mod.ts";
import { JsonBodyStage, parseJsonBody, startsLikeObject } from "../../src/extract/mod.ts";
import type { AttrValue, LogRecord, RecordOrigin } from "../../src/record.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { assertProperty } from "../_helpers/property.ts";

const LIMITS = { maxDepth: 8, maxKeys: 128 };
const f64 = (v: number): Float64Array => Float64Array.of(v);

interface ParseCase {
  name: string;
  input: string;
  limits?: { maxDepth: number; maxKeys: number };
  want: {
    fields?: Record<string, AttrValue>;
    reason?: string;
    severity?: [number, string];
    time?: [number, number];
    cutDepth?: number;
    cutKeys?: number;
    keptLevel?: boolean;
    keptTime?: boolean;
  };
}

const PARSE_CASES: ParseCase[] = [
  {
    name: "a flat object",
    input: '{"msg":"hi","n":3,"ok":true,"none":null}',
    want: { fields: { msg: "hi", n: 3, ok: true, none: null } },
  },
  {
    name: "nested objects and arrays",
    input: '{"a":{"b":[1,"x",{"c":false}]},"e":[]}',
    want: { fields: { a: { b: [1, "x", { c: false }] }, e: [] } },
  },
  {
    name: "doubles that are integral keep a double marker",
    input: '{"a":1.0,"b":2.50,"c":1e3,"d":-0.0,"e":7}',
    want: { fields: { a: f64(1), b: 2.5, c: f64(1000), d: f64(-0), e: 7 } },
  },
  {
    name: "integers beyond 2^53 stay exact as bigint, beyond int64 as text",
    input: '{"a":9007199254740993,"b":-9223372036854775808,"c":9223372036854775808,"d":123}',
    want: { fields: { a: 9007199254740993n, b: -9223372036854775808n, c: "9223372036854775808", d: 123 } },
  },
  {
    name: "a decimal with more digits than a double holds that rounds to an integer",
    input: '{"a":1.00000000000000001}',
    want: { fields: { a: f64(1) } },
  },
  {
    name: "number-like text inside strings is left alone",
    input: '{"ip":"10.0.0.1","v":"1e5","n":0.25}',
    want: { fields: { ip: "10.0.0.1", v: "1e5", n: 0.25 } },
  },
  {
    name: "level word sets severity and leaves the map",
    input: '{"level":"WARNING","msg":"slow"}',
    want: { fields: { msg: "slow" }, severity: [13, "WARNING"] },
  },
  {
    name: "glog letter severity",
    input: '{"severity":"E","msg":"x"}',
    want: { fields: { msg: "x" }, severity: [17, "E"] },
  },
  {
    name: "pino numeric level",
    input: '{"level":30,"msg":"x"}',
    want: { fields: { msg: "x" }, severity: [9, "30"] },
  },
  { name: "syslog name in lvl", input: '{"lvl":"crit"}', want: { fields: {}, severity: [21, "crit"] } },
  {
    name: "an unknown level word keeps its key",
    input: '{"level":"chatty","msg":"x"}',
    want: { fields: { level: "chatty", msg: "x" }, keptLevel: true },
  },
  {
    name: "RFC 3339 time with nanoseconds and an offset becomes the record time",
    input: '{"time":"2026-12-04T21:00:00.123456789+01:00","msg":"x"}',
    want: { fields: { msg: "x" }, time: [1796414400, 123456789] },
  },
  {
    name: "epoch seconds with a fraction",
    input: '{"ts":1796418000.25}',
    want: { fields: {}, time: [1796418000, 250000000] },
  },
  {
    name: "epoch milliseconds",
    input: '{"ts":1796418000123}',
    want: { fields: {}, time: [1796418000, 123000000] },
  },
  {
    name: "epoch nanoseconds beyond 2^53 are exact",
    input: '{"timestamp":1796418000123456789}',
    want: { fields: {}, time: [1796418000, 123456789] },
  },
  {
    name: "an iteration time under the time key is not a timestamp and stays",
    input: '{"time":0.34,"data_time":0.01}',
    want: { fields: { time: 0.34, data_time: 0.01 }, keptTime: true },
  },
  {
    name: "an invalid date stays",
    input: '{"ts":"2026-02-30T00:00:00Z"}',
    want: { fields: { ts: "2026-02-30T00:00:00Z" }, keptTime: true },
  },
  {
    name: "msg and message stay in the map",
    input: '{"message":"a","msg":"b"}',
    want: { fields: { message: "a", msg: "b" } },
  },
  {
    name: "containers deeper than max_depth become their JSON text",
    input: '{"a":{"b":{"c":{"d":1.0,"e":12345678901234567890}}}}',
    limits: { maxDepth: 2, maxKeys: 128 },
    want: { fields: { a: { b: '{"c":{"d":1.0,"e":"12345678901234567890"}}' } }, cutDepth: 1 },
  },
  {
    name: "entries beyond max_keys are dropped and counted over all levels",
    input: '{"a":1,"b":[1,2,3],"c":{"d":1,"e":2},"f":1}',
    limits: { maxDepth: 8, maxKeys: 4 },
    want: { fields: { a: 1, b: [1, 2] }, cutKeys: 3 },
  },
  { name: "an array body", input: "[1,2,3]", want: { reason: "not_object" } },
  { name: "broken JSON", input: '{"a":', want: { reason: "malformed" } },
  { name: "JSON followed by trailing text", input: '{"a":1} and more', want: { reason: "trailing_text" } },
  { name: "two objects on one line", input: '{"a":1}{"b":2}', want: { reason: "trailing_text" } },
  {
    name: "a brace inside a string does not end the object",
    input: '{"a":"}"} x',
    want: { reason: "trailing_text" },
  },
];

for (const c of PARSE_CASES) {
  Deno.test(`parseJsonBody handles ${c.name}`, () => {
    const got = parseJsonBody(c.input, c.limits ?? LIMITS);
    if (c.want.reason !== undefined) {
      assert.deepEqual(got, { ok: false, reason: c.want.reason });
      return;
    }
    assert.ok(got.ok, got.ok ? "" : got.reason);
    assert.deepEqual(got.fields, c.want.fields);
    const severity = got.severity === null
      ? undefined
      : [got.severity.severityNumber, got.severity.severityText];
    assert.deepEqual(severity, c.want.severity);
    assert.deepEqual(got.time ?? undefined, c.want.time);
    assert.equal(got.cutDepth, c.want.cutDepth ?? 0);
    assert.equal(got.cutKeys, c.want.cutKeys ?? 0);
    assert.equal(got.keptLevel, c.want.keptLevel ?? false);
    assert.equal(got.keptTime, c.want.keptTime ?? false);
  });
}

Deno.test("parseJsonBody keeps a __proto__ key as a key, not a prototype", () => {
  const got = parseJsonBody('{"__proto__":{"x":1},"a":2}', LIMITS);
  assert.ok(got.ok);
  assert.equal(Object.getPrototypeOf(got.fields), Object.prototype);
  assert.deepEqual(Object.keys(got.fields), ["__proto__", "a"]);
});

const START_CASES: { input: string; want: boolean }[] = [
  { input: '{"a":1}', want: true },
  { input: ' \t\r\n{"a":1}', want: true },
  { input: "[1]", want: false },
  { input: "plain text {", want: false },
  { input: "", want: false },
  { input: "   ", want: false },
];

for (const { input, want } of START_CASES) {
  Deno.test(`startsLikeObject says ${want} for ${JSON.stringify(input)} as text and as bytes`, () => {
    assert.equal(startsLikeObject(input), want);
    assert.equal(startsLikeObject(new TextEncoder().encode(input)), want);
  });
}

Deno.test("parseJsonBody is total: any text gives a result, never a throw", () => {
  assertProperty(
    fc.property(fc.oneof(fc.string(), fc.json().map((j) => `{"k":${j}}`), fc.json()), (text) => {
      const got = parseJsonBody(text, { maxDepth: 3, maxKeys: 10 });
      assert.ok(got.ok === true || typeof got.reason === "string");
    }),
  );
});

Deno.test("parseJsonBody with room to spare gives back every entry JSON.parse sees", () => {
  // Integers only (no exponent or fraction markers are generated), so JSON.parse is the oracle.
  const value = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: "small" },
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie("node"), { maxLength: 4 }),
      fc.dictionary(
        fc.string().filter((k) => !["level", "severity", "lvl", "time", "ts", "timestamp"].includes(k)),
        tie("node"),
        { maxKeys: 4 },
      ),
    ),
  })).node;
  const object = fc.dictionary(
    fc.string({ minLength: 1 }).filter((k) => !/^(level|severity|lvl|time|ts|timestamp)$/.test(k)),
    value,
    { maxKeys: 6 },
  );
  let nonEmpty = 0;
  assertProperty(
    fc.property(object, (obj) => {
      const text = JSON.stringify(obj);
      const got = parseJsonBody(text, { maxDepth: 64, maxKeys: 100_000 });
      assert.ok(got.ok);
      assert.deepEqual(got.fields, JSON.parse(text));
      if (Object.keys(obj).length > 0) nonEmpty++;
    }),
  );
  assert.ok(nonEmpty > 0, "the generator produced only empty objects");
});

// ---- the stage ---------------------------------------------------------------------------------

const ORIGIN: RecordOrigin = { fileKey: "f", startOffset: 0, endOffset: 10, sizeBytes: 10, podPath: null };

function record(body: LogRecord["body"], attributes: Record<string, AttrValue> = {}): LogRecord {
  return {
    hrTime: [1, 0],
    hrTimeObserved: [2, 0],
    body,
    attributes,
    droppedAttributesCount: 0,
    resource: { attributes: {} },
    instrumentationScope: { name: "t", version: "0" },
  };
}

function stageWith(mode: "body" | "attributes") {
  const metrics = createAgentMetrics(new MetricsRegistry());
  const out: LogRecord[] = [];
  const stage = new JsonBodyStage({
    mode,
    maxDepth: 8,
    maxKeys: 128,
    metrics,
    next: { push: (r) => void out.push(r) },
  });
  return { stage, out, metrics };
}

Deno.test("JSON stage in body mode turns a byte body into a map with severity and time", () => {
  const { stage, out, metrics } = stageWith("body");
  const bytes = new TextEncoder().encode('{"level":"error","ts":1796418000,"msg":"boom","step":7}');
  stage.push(record(bytes), ORIGIN);
  assert.equal(out.length, 1);
  // The body left as its kvlist encoding (the fast path): the same request as the map would give.
  assert.ok(out[0].body instanceof EncodedAnyValue);
  assert.deepEqual(
    encodeLogsRequest([record(out[0].body)]),
    encodeLogsRequest([record({ msg: "boom", step: 7 })]),
  );
  assert.equal(out[0].severityNumber, 17);
  assert.equal(out[0].severityText, "error");
  assert.deepEqual(out[0].hrTime, [1796418000, 0]);
  assert.equal(metrics.jsonParsed.total(), 1);
  assert.equal(metrics.jsonTranscoded.total(), 1);
});

Deno.test("JSON stage counts a body the transcoder declines as parsed, not transcoded", () => {
  const { stage, out, metrics } = stageWith("body");
  // A duplicate key: JSON.parse keeps the last value, which the transcoder leaves to it.
  stage.push(record(new TextEncoder().encode('{"a":1,"a":2}')), ORIGIN);
  assert.deepEqual(out[0].body, { a: 2 });
  assert.equal(metrics.jsonParsed.total(), 1);
  assert.equal(metrics.jsonTranscoded.total(), 0);
});

Deno.test("JSON stage in attributes mode keeps the text and adds fields, the agent's own attributes win", () => {
  const { stage, out, metrics } = stageWith("attributes");
  const text = '{"msg":"x","log.iostream":"fake","n":1.0}';
  stage.push(record(text, { "log.iostream": "stdout" }), ORIGIN);
  assert.equal(out[0].body, text);
  assert.deepEqual(out[0].attributes, { "log.iostream": "stdout", msg: "x", n: f64(1) });
  assert.equal(out[0].droppedAttributesCount, 1);
  assert.equal(metrics.jsonCut.get("attribute_collision"), 1);
});

const SKIP_CASES: { name: string; body: string | Uint8Array; reason: string }[] = [
  { name: "plain text", body: "hello world", reason: "not_object" },
  { name: "a JSON array", body: "[1,2]", reason: "not_object" },
  { name: "a JSON string", body: '"hi"', reason: "not_object" },
  { name: "a number", body: "42", reason: "not_object" },
  { name: "broken JSON", body: '{"a":tru}', reason: "malformed" },
  { name: "JSON with trailing text", body: '{"a":1} tail', reason: "trailing_text" },
  {
    name: "invalid UTF-8 bytes",
    body: Uint8Array.of(0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d),
    reason: "invalid_utf8",
  },
];

for (const c of SKIP_CASES) {
  Deno.test(`JSON stage leaves ${c.name} untouched and counts reason ${c.reason}`, () => {
    const { stage, out, metrics } = stageWith("body");
    const body = c.body;
    stage.push(record(body), ORIGIN);
    assert.equal(out[0].body, body);
    assert.equal(metrics.jsonSkipped.get(c.reason), 1);
    assert.equal(metrics.jsonParsed.total(), 0);
  });
}

Deno.test("JSON stage counts depth and key cuts and kept well-known keys", () => {
  const { stage, metrics } = stageWith("body");
  const deep = '{"a":'.repeat(20) + "1" + "}".repeat(20);
  stage.push(record(deep), ORIGIN);
  const wide = JSON.stringify(Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, i])));
  stage.push(record(wide), ORIGIN);
  stage.push(record('{"level":"loud","time":"yesterday"}'), ORIGIN);
  assert.equal(metrics.jsonCut.get("depth"), 1);
  assert.equal(metrics.jsonCut.get("keys"), 72);
  assert.equal(metrics.jsonKeptKeys.get("level"), 1);
  assert.equal(metrics.jsonKeptKeys.get("time"), 1);
});

Deno.test("parseJsonBody keeps every number token's int or double kind, whatever digits it has", () => {
  // Tokens built to stress the fast-path test: long digit runs, fractions of zeros or nines, exponents.
  const digit = fc.constantFrom("0", "1", "5", "9");
  const digits = (max: number) => fc.array(digit, { minLength: 1, maxLength: max }).map((d) => d.join(""));
  const token = fc.tuple(
    fc.constantFrom("", "-"),
    digits(20).map((d) => d.replace(/^0+(?=\d)/, "")),
    fc.option(digits(20).map((d) => `.${d}`), { nil: "" }),
    fc.option(
      fc.tuple(fc.constantFrom("e", "E"), fc.constantFrom("", "+", "-"), digits(2)).map((p) => p.join("")),
      {
        nil: "",
      },
    ),
  ).map((p) => p.join(""));
  let doubles = 0;
  assertProperty(
    fc.property(token, fc.constantFrom(":", ": ", ",", "[\n", "dup", "str"), (tok, sep) => {
      // The token after each kind of token start the regex test anchors on, and at the top level next
      // to a nested key of the same name or a string value equal to the key (the key search says no).
      const fixed = sep === ","
        ? `{"a":[0,${tok}]}`
        : sep === "[\n"
        ? `{"a":[\n${tok}]}`
        : sep === "dup"
        ? `{"a":${tok},"n":{"a":0}}`
        : sep === "str"
        ? `{"a":${tok},"s":"a","t":7}`
        : `{"a"${sep}${tok}}`;
      const got = parseJsonBody(fixed, LIMITS);
      assert.ok(got.ok, fixed);
      const raw = got.fields.a;
      const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
      const isDoubleToken = /[.eE]/.test(tok);
      if (isDoubleToken) {
        doubles++;
        // A double: a non-integral number, or the Float64Array marker.
        assert.ok(
          value instanceof Float64Array || (typeof value === "number" && !Number.isInteger(value)),
          `${tok} -> ${String(value)}`,
        );
      } else {
        const big = BigInt(tok);
        if (big >= -(2n ** 63n) && big < 2n ** 63n) {
          assert.equal(BigInt(value as number | bigint), big, tok);
          assert.ok(typeof value === "bigint" || Number.isSafeInteger(value), tok);
        } else assert.equal(value, tok);
      }
    }),
    2000,
  );
  assert.ok(doubles > 100, `only ${doubles} double tokens generated`);
});
