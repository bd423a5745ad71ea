import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeLogsResponse, EncodedAnyValue, encodeLogsRequest } from "../../src/export/mod.ts";
import { JsonTranscoder } from "../../src/extract/_json_transcode.ts";
import type { Attributes, AttrValue, HrTime, LogRecord, ResourceRef } from "../../src/record.ts";
import { type DecodedResourceLogs, decodeLogsRequest, encodeLogsResponse } from "../_fakes/otlp_decode.ts";
import { assertProperty } from "../_helpers/property.ts";

const SCOPE = { name: "containerstdout", version: "0.1.0" };

function makeRecord(resource: ResourceRef, fields: Partial<LogRecord> = {}): LogRecord {
  return {
    hrTime: [1_700_000_000, 123_456_789],
    hrTimeObserved: [1_700_000_001, 5],
    body: "hello",
    attributes: {},
    droppedAttributesCount: 0,
    resource,
    instrumentationScope: SCOPE,
    ...fields,
  };
}

function roundTrip(records: readonly LogRecord[]): DecodedResourceLogs[] {
  return decodeLogsRequest(encodeLogsRequest(records));
}

function onlyRecord(
  decoded: DecodedResourceLogs[],
): DecodedResourceLogs["scopes"][number]["records"][number] {
  assert.equal(decoded.length, 1);
  assert.equal(decoded[0].scopes.length, 1);
  assert.equal(decoded[0].scopes[0].records.length, 1);
  return decoded[0].scopes[0].records[0];
}

const ATTRIBUTE_CASES: { name: string; input: unknown; want: unknown }[] = [
  { name: "a string", input: "value", want: "value" },
  { name: "an empty string", input: "", want: "" },
  { name: "multibyte text", input: "héllo 世界 🚀 e\u0301", want: "héllo 世界 🚀 e\u0301" },
  { name: "true", input: true, want: true },
  { name: "false", input: false, want: false },
  { name: "zero", input: 0, want: 0 },
  { name: "a negative int", input: -42, want: -42 },
  { name: "the largest safe int", input: Number.MAX_SAFE_INTEGER, want: Number.MAX_SAFE_INTEGER },
  { name: "the smallest safe int", input: Number.MIN_SAFE_INTEGER, want: Number.MIN_SAFE_INTEGER },
  { name: "2^53 (unsafe, as bigint)", input: 2 ** 53, want: 2n ** 53n },
  { name: "-2^60 (unsafe, as bigint)", input: -(2 ** 60), want: -(2n ** 60n) },
  { name: "a double", input: 1.5, want: 1.5 },
  { name: "a negative double", input: -0.001, want: -0.001 },
  { name: "NaN", input: NaN, want: NaN },
  { name: "Infinity", input: Infinity, want: Infinity },
  { name: "-Infinity", input: -Infinity, want: -Infinity },
  { name: "an empty array", input: [], want: [] },
  { name: "a mixed array", input: ["a", 1, 2.5, true, ["nested"]], want: ["a", 1, 2.5, true, ["nested"]] },
  { name: "an empty kvlist", input: {}, want: {} },
  {
    name: "a nested kvlist",
    input: { a: 1, b: { c: "d", e: [false] }, "ключ": "значение" },
    want: { a: 1, b: { c: "d", e: [false] }, "ключ": "значение" },
  },
  { name: "bytes", input: new Uint8Array([0, 1, 255]), want: new Uint8Array([0, 1, 255]) },
  { name: "null (an empty AnyValue)", input: null, want: null },
];

for (const { name, input, want } of ATTRIBUTE_CASES) {
  Deno.test(`decodeLogsRequest round-trips an attribute holding ${name}`, () => {
    const resource = { attributes: { "r.value": input as AttrValue } };
    const record = makeRecord(resource, { attributes: { "l.value": input as AttrValue } });
    const decoded = roundTrip([record]);
    assert.deepEqual(decoded[0].resource, { "r.value": want });
    assert.deepEqual(onlyRecord(decoded).attributes, { "l.value": want });
  });
}

const BODY_CASES: { name: string; input: string }[] = [
  { name: "an ASCII line", input: '{"level":"info","msg":"step 10 done"}' },
  { name: "an empty body", input: "" },
  { name: "multibyte text", input: "日本語のログ 🚀 ünïcödé" },
  { name: "control characters", input: "tab\there\u0000nul\r\n" },
  { name: "a 100 KiB body", input: "x".repeat(100 * 1024) },
];

for (const { name, input } of BODY_CASES) {
  Deno.test(`decodeLogsRequest round-trips a record body with ${name}`, () => {
    assert.equal(onlyRecord(roundTrip([makeRecord({ attributes: {} }, { body: input })])).body, input);
  });
}

const TIME_CASES: { name: string; input: HrTime; want: bigint }[] = [
  { name: "a time with nanos", input: [1_700_000_000, 123_456_789], want: 1_700_000_000_123_456_789n },
  { name: "the epoch", input: [0, 0], want: 0n },
  { name: "the last nano of a second", input: [1, 999_999_999], want: 1_999_999_999n },
  { name: "a time past 2^32 seconds", input: [2 ** 33, 7], want: 2n ** 33n * 1_000_000_000n + 7n },
];

for (const { name, input, want } of TIME_CASES) {
  Deno.test(`decodeLogsRequest round-trips ${name} as fixed64 nanoseconds`, () => {
    const decoded = onlyRecord(
      roundTrip([makeRecord({ attributes: {} }, { hrTime: input, hrTimeObserved: input })]),
    );
    assert.equal(decoded.timeUnixNano, want);
    assert.equal(decoded.observedTimeUnixNano, want);
  });
}

Deno.test("decodeLogsRequest reads severity number and text, and zero values when absent", () => {
  const resource = { attributes: {} };
  const decoded = roundTrip([
    makeRecord(resource, { severityNumber: 17, severityText: "ERROR" }),
    makeRecord(resource),
  ]);
  const [withSeverity, without] = decoded[0].scopes[0].records;
  assert.equal(withSeverity.severityNumber, 17);
  assert.equal(withSeverity.severityText, "ERROR");
  assert.equal(without.severityNumber, 0);
  assert.equal(without.severityText, "");
});

Deno.test("encodeLogsRequest groups records by resource object identity in first-seen order", () => {
  const a = { attributes: { "k8s.pod.name": "a" } };
  const b = { attributes: { "k8s.pod.name": "b" } };
  const aTwin = { attributes: { "k8s.pod.name": "a" } };
  const records = [
    makeRecord(a, { body: "a1" }),
    makeRecord(b, { body: "b1" }),
    makeRecord(a, { body: "a2" }),
    makeRecord(aTwin, { body: "twin1" }),
    makeRecord(b, { body: "b2" }),
  ];
  const decoded = roundTrip(records);
  assert.deepEqual(
    decoded.map((r) => [r.resource["k8s.pod.name"], r.scopes[0].records.map((x) => x.body)]),
    [["a", ["a1", "a2"]], ["b", ["b1", "b2"]], ["a", ["twin1"]]],
  );
  assert.deepEqual(decoded[0].scopes.map((s) => [s.name, s.version]), [["containerstdout", "0.1.0"]]);
});

Deno.test("encodeLogsRequest puts records of two scope objects of one resource in two scopes", () => {
  const resource = { attributes: {} };
  const other = { name: "other", version: "" };
  const decoded = roundTrip([
    makeRecord(resource, { body: "1" }),
    makeRecord(resource, { body: "2", instrumentationScope: other }),
    makeRecord(resource, { body: "3" }),
  ]);
  assert.equal(decoded.length, 1);
  assert.deepEqual(decoded[0].scopes.map((s) => [s.name, s.version, s.records.map((r) => r.body)]), [
    ["containerstdout", "0.1.0", ["1", "3"]],
    ["other", "", ["2"]],
  ]);
});

Deno.test("decodeLogsRequest keeps an attribute named __proto__ as a plain own key", () => {
  const attributes = Object.fromEntries([["__proto__", "x"], ["b", 1]]) as Attributes;
  const decoded = onlyRecord(roundTrip([makeRecord({ attributes: {} }, { attributes })]));
  assert.equal(Object.getPrototypeOf(decoded.attributes), Object.prototype);
  assert.deepEqual(Object.entries(decoded.attributes), [["__proto__", "x"], ["b", 1]]);
});

Deno.test("encodeLogsRequest writes an encoded AnyValue as the value it encodes, as a body and nested in attributes", () => {
  const resource: ResourceRef = { attributes: {} };
  const kvlist: AttrValue = { msg: "boom", step: 7, nested: [1.5, null, true] };
  // The JSON stage's transcoder makes such values from a body's bytes.
  const text = '{"msg":"boom","step":7,"nested":[1.5,null,true]}';
  const encoded = new JsonTranscoder().transcode(new TextEncoder().encode(text), 8, 128)?.value;
  assert.ok(encoded instanceof EncodedAnyValue);
  assert.deepEqual(
    roundTrip([makeRecord(resource, { body: encoded })]),
    roundTrip([makeRecord(resource, { body: kvlist })]),
  );
  // An eviction record carries kept lines, whose bodies may be encoded kvlists, inside arrays.
  assert.deepEqual(
    roundTrip([makeRecord(resource, { attributes: { lines: [{ body: encoded }] } })]),
    roundTrip([makeRecord(resource, { attributes: { lines: [{ body: kvlist }] } })]),
  );
});

Deno.test("encodeLogsRequest of no records is an empty request", () => {
  assert.equal(encodeLogsRequest([]).length, 0);
  assert.deepEqual(decodeLogsRequest(new Uint8Array(0)), []);
});

Deno.test("decodeLogsRequest keeps the event name and dropped count and skips trace context, flags and schema URLs", () => {
  const resource = { attributes: { a: "b" }, schemaUrl: "https://opentelemetry.io/schemas/1.26.0" };
  const scope = { name: "s", version: "1", schemaUrl: "https://x", attributes: { "scope.attr": 1 } };
  const record = {
    ...makeRecord(resource, { attributes: { k: "v" } }),
    instrumentationScope: scope,
    spanContext: { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: 1 },
    eventName: "step.done",
    droppedAttributesCount: 3,
  };
  const decoded = roundTrip([record as LogRecord]);
  assert.deepEqual(decoded, [{
    resource: { a: "b" },
    scopes: [{
      name: "s",
      version: "1",
      records: [{
        timeUnixNano: 1_700_000_000_123_456_789n,
        observedTimeUnixNano: 1_700_000_001_000_000_005n,
        body: "hello",
        attributes: { k: "v" },
        severityNumber: 0,
        severityText: "",
        eventName: "step.done",
        droppedAttributesCount: 3,
      }],
    }],
  }]);
});

/** Unknown top-level fields of every wire type: 15 varint, 16 fixed64, 17 bytes, 18 fixed32. */
const UNKNOWN_FIELDS = new Uint8Array([
  ...[15 << 3, 0x96, 0x01],
  ...[0x81, 0x01, 1, 2, 3, 4, 5, 6, 7, 8],
  ...[0x8a, 0x01, 3, 0xff, 0xfe, 0xfd],
  ...[0x95, 0x01, 9, 9, 9, 9],
]);

Deno.test("decodeLogsRequest skips unknown fields of every wire type", () => {
  const plain = encodeLogsRequest([makeRecord({ attributes: { a: 1 } })]);
  const withUnknown = new Uint8Array([...UNKNOWN_FIELDS, ...plain, ...UNKNOWN_FIELDS]);
  assert.deepEqual(decodeLogsRequest(withUnknown), decodeLogsRequest(plain));
});

const MALFORMED_CASES: { name: string; input: Uint8Array }[] = [
  { name: "a truncated varint", input: new Uint8Array([0x0a, 0x80]) },
  { name: "a length past the end", input: new Uint8Array([0x0a, 0x05, 0x0a]) },
  { name: "a truncated fixed64", input: new Uint8Array([(14 << 3) | 1, 1, 2]) },
  { name: "a group wire type", input: new Uint8Array([(15 << 3) | 3]) },
  { name: "a wrong wire type for resource_logs", input: new Uint8Array([(1 << 3) | 0, 1]) },
  {
    name: "invalid UTF-8 in a string",
    input: new Uint8Array([0x0a, 0x07, 0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0xff]),
  },
];

for (const { name, input } of MALFORMED_CASES) {
  Deno.test(`decodeLogsRequest throws on ${name}`, () => {
    assert.throws(() => decodeLogsRequest(input), /^Error: Malformed OTLP protobuf: /);
  });
}

Deno.test("decodeLogsRequest throws on invalid UTF-8 inside an attribute key", () => {
  const bytes = encodeLogsRequest([makeRecord({ attributes: { "ab": 1 } })]);
  const at = bytes.indexOf(0x61);
  bytes[at] = 0xff;
  assert.throws(() => decodeLogsRequest(bytes), /invalid UTF-8/);
});

Deno.test("decodeLogsRequest reads 20 resources of 50 records each, in order", () => {
  const resources = Array.from({ length: 20 }, (_, i) => ({ attributes: { "k8s.pod.name": `pod-${i}` } }));
  const records: LogRecord[] = [];
  for (let i = 0; i < 1000; i++) {
    records.push(makeRecord(resources[i % 20], { body: `line ${i} ✓`, attributes: { "log.index": i } }));
  }
  const decoded = roundTrip(records);
  assert.equal(decoded.length, 20);
  decoded.forEach((resourceLogs, r) => {
    assert.deepEqual(resourceLogs.resource, { "k8s.pod.name": `pod-${r}` });
    const indexes = resourceLogs.scopes[0].records.map((x) => x.attributes["log.index"]);
    assert.deepEqual(indexes, Array.from({ length: 50 }, (_, k) => r + 20 * k));
    for (const record of resourceLogs.scopes[0].records) {
      assert.equal(record.body, `line ${record.attributes["log.index"]} ✓`);
    }
  });
});

// A model of what the wire gives back for a JS value the serializer accepts.
function expectedValue(value: unknown): unknown {
  if (typeof value === "number") {
    // The serializer writes integers in [-2^63, 2^63) as int64 and everything else as a double.
    if (!Number.isInteger(value) || value < -(2 ** 63) || value >= 2 ** 63) return value;
    if (Object.is(value, -0)) return 0;
    return Number.isSafeInteger(value) ? value : BigInt(value);
  }
  if (Array.isArray(value)) return value.map(expectedValue);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expectedValue(v)]));
  }
  return value;
}

const keyArb = fc.string({ unit: "binary", maxLength: 12 });
const scalarArb: fc.Arbitrary<AttrValue> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.boolean(),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double(),
  fc.constantFrom(2 ** 62, -(2 ** 63), 2 ** 53 + 2),
);
const valueArb: fc.Arbitrary<AttrValue> = fc.letrec<{ value: AttrValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalarArb,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.array(fc.tuple(keyArb, tie("value")), { maxLength: 4 }).map((entries) => Object.fromEntries(entries)),
  ),
})).value;
const attributesArb: fc.Arbitrary<Attributes> = fc.array(fc.tuple(keyArb, valueArb), { maxLength: 5 })
  .map((entries) => Object.fromEntries(entries));
const hrTimeArb: fc.Arbitrary<HrTime> = fc.tuple(
  fc.integer({ min: 0, max: 2 ** 34 }),
  fc.integer({ min: 0, max: 999_999_999 }),
);

Deno.test("decodeLogsRequest gives back every record of any batch over shared resources", () => {
  const batchArb = fc.record({
    resources: fc.array(attributesArb, { minLength: 1, maxLength: 5 }),
    records: fc.array(
      fc.record({
        resourceIndex: fc.nat(),
        hrTime: hrTimeArb,
        hrTimeObserved: hrTimeArb,
        body: fc.string({ unit: "binary", maxLength: 200 }),
        attributes: attributesArb,
        severityNumber: fc.integer({ min: 0, max: 24 }),
        severityText: fc.constantFrom("", "INFO", "ERROR"),
      }),
      { maxLength: 30 },
    ),
  });
  let sawSharedResource = false;
  assertProperty(
    fc.property(batchArb, ({ resources, records }) => {
      const refs = resources.map((attributes) => ({ attributes }));
      const input = records.map((r) => makeRecord(refs[r.resourceIndex % refs.length], { ...r }));
      const decoded = roundTrip(input);
      // Model: resources in first-seen order, records in input order within each.
      const want = new Map<ResourceRef, unknown[]>();
      for (const r of input) {
        const list = want.get(r.resource) ?? [];
        list.push({
          timeUnixNano: BigInt(r.hrTime[0]) * 1_000_000_000n + BigInt(r.hrTime[1]),
          observedTimeUnixNano: BigInt(r.hrTimeObserved[0]) * 1_000_000_000n + BigInt(r.hrTimeObserved[1]),
          body: r.body,
          attributes: expectedValue(r.attributes),
          severityNumber: r.severityNumber ?? 0,
          severityText: r.severityText ?? "",
        });
        want.set(r.resource, list);
        if (list.length > 1) sawSharedResource = true;
      }
      assert.deepEqual(
        decoded,
        [...want].map(([resource, list]) => ({
          resource: expectedValue(resource.attributes),
          scopes: [{ name: SCOPE.name, version: SCOPE.version, records: list }],
        })),
      );
    }),
    200,
  );
  assert.ok(sawSharedResource, "the generator never put two records on one resource");
});

const RESPONSE_CASES: { name: string; input: Uint8Array; want: ReturnType<typeof decodeLogsResponse> }[] = [
  {
    name: "an empty body",
    input: new Uint8Array(0),
    want: { ok: true, rejectedLogRecords: 0, errorMessage: "" },
  },
  {
    name: "a partial success",
    input: encodeLogsResponse(3, "3 records too old"),
    want: { ok: true, rejectedLogRecords: 3, errorMessage: "3 records too old" },
  },
  {
    name: "a message without rejections",
    input: encodeLogsResponse(0, "slow down"),
    want: { ok: true, rejectedLogRecords: 0, errorMessage: "slow down" },
  },
  {
    name: "a large rejected count",
    input: encodeLogsResponse(2 ** 40, ""),
    want: { ok: true, rejectedLogRecords: 2 ** 40, errorMessage: "" },
  },
];

for (const { name, input, want } of RESPONSE_CASES) {
  Deno.test(`decodeLogsResponse reads ${name}`, () => {
    assert.deepEqual(decodeLogsResponse(input), want);
  });
}

const BAD_RESPONSE_CASES: { name: string; input: Uint8Array }[] = [
  { name: "a truncated body", input: encodeLogsResponse(3, "x").subarray(0, 3) },
  { name: "an HTML body", input: new TextEncoder().encode("<html>oops</html>") },
  {
    name: "a negative rejected count",
    input: new Uint8Array([0x0a, 0x0b, 0x08, ...[
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0x01,
    ]]),
  },
];

for (const { name, input } of BAD_RESPONSE_CASES) {
  Deno.test(`decodeLogsResponse reports ${name} as malformed without throwing`, () => {
    const result = decodeLogsResponse(input);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.reason, "malformed_response");
  });
}
