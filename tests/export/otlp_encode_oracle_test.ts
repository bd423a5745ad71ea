/**
 * Our OTLP encoder against `@opentelemetry/otlp-transformer` as the oracle: for any batch, both encode
 * the same request (decoded with the test decoder, which also proves every string is valid UTF-8), and
 * byte for byte, since the transformer writes canonical protobuf (shortest varints, fields in number
 * order, no unknown fields). The oracle sees a bytes body as the text a lenient UTF-8 decoder makes of it.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { ProtobufLogsSerializer } from "@opentelemetry/otlp-transformer";
import { decodeLogsResponse, LogsRequestEncoder } from "../../src/export/mod.ts";
import type { Attributes, AttrValue, HrTime, LogRecord, ResourceRef } from "../../src/record.ts";
import { decodeLogsRequest } from "../_fakes/otlp_decode.ts";
import { assertProperty } from "../_helpers/property.ts";

type SerializerRecords = Parameters<typeof ProtobufLogsSerializer.serializeRequest>[0];

/**
 * Non-fatal, and BOM-preserving: a log line that starts with U+FEFF keeps it (bytes in, bytes out), where
 * a default TextDecoder would strip it.
 */
const lenient = new TextDecoder("utf-8", { ignoreBOM: true });
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function oracleEncode(records: readonly LogRecord[]): Uint8Array {
  const asText = records.map((r) =>
    r.body instanceof Uint8Array ? { ...r, body: lenient.decode(r.body) } : r
  );
  const bytes = ProtobufLogsSerializer.serializeRequest(asText as unknown as SerializerRecords);
  assert.ok(bytes !== undefined, "the oracle returned nothing");
  return bytes;
}

function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    strict.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Checks one batch against the oracle; returns the invalid-body count our encoder reported. */
function assertMatchesOracle(encoder: LogsRequestEncoder, records: readonly LogRecord[]): number {
  const want = oracleEncode(records);
  const got = encoder.encode(records);
  assert.deepEqual(decodeLogsRequest(got.bytes), decodeLogsRequest(want));
  assert.deepEqual(got.bytes, want, "same decoded request but different bytes");
  const invalid = records.filter((r) => r.body instanceof Uint8Array && !isValidUtf8(r.body)).length;
  assert.equal(got.invalidUtf8Records, invalid);
  return got.invalidUtf8Records;
}

// ---- generators ----------------------------------------------------------------------------------------

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const textArb = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc.string({ unit: fc.oneof(fc.string({ unit: "binary", maxLength: 1 }), loneSurrogate) }),
  },
);
const keyArb = fc.oneof(fc.constantFrom("log.iostream", "k8s.pod.name", "__proto__", "0", "10"), textArb);

const intArb = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.constantFrom(
    0,
    -1,
    2 ** 31,
    2 ** 32,
    2 ** 32 - 1,
    -(2 ** 31),
    2 ** 53 + 2,
    2 ** 62,
    -(2 ** 63),
    2 ** 63,
  ),
);
const scalarArb: fc.Arbitrary<unknown> = fc.oneof(
  textArb,
  fc.boolean(),
  intArb,
  fc.double(),
  fc.constantFrom(-0, NaN, Infinity, -Infinity, 0.1),
  fc.uint8Array({ maxLength: 20 }),
  fc.constant(null),
);
const valueArb: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalarArb,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.array(fc.tuple(keyArb, tie("value")), { maxLength: 4 }).map(toObject),
  ),
})).value;
const attributesArb = fc.array(fc.tuple(keyArb, valueArb), { maxLength: 5 }).map(toObject);

function toObject(entries: [string, unknown][]): Attributes {
  const out: Record<string, unknown> = {};
  for (const [key, value] of entries) {
    // A plain assignment of "__proto__" would set the prototype instead of adding a key.
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return out as Attributes;
}

const encoder = new TextEncoder();
const HUGE_ASCII = encoder.encode("x".repeat(300_000));
const HUGE_MIXED = encoder.encode("日本語のログ ünïcödé 🚀 ".repeat(8_000));
const HUGE_INVALID = (() => {
  const bytes = encoder.encode("y".repeat(200_000));
  for (let i = 7; i < bytes.length; i += 997) bytes[i] = 0xc3 + (i % 3) * 0x20;
  return bytes;
})();

/** Bytes bodies: valid text, arbitrary bytes, near-valid edits of text, a BOM, and huge ones. */
const bytesBodyArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: textArb.map((s) => encoder.encode(s)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.string({ unit: "binary", minLength: 1, maxLength: 30 }), fc.nat(), fc.nat(255))
      .map(([s, at, byte]) => {
        const bytes = encoder.encode(s);
        bytes[at % bytes.length] = byte;
        return bytes;
      }),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.string({ unit: "binary", minLength: 1, maxLength: 10 }), fc.nat()).map(
      ([s, cut]) => {
        const bytes = encoder.encode(s);
        return bytes.subarray(0, cut % bytes.length).slice(); // may end inside a character
      },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(textArb.map((s) => encoder.encode(s)), fc.uint8Array({ maxLength: 8 }))
      .map((rest) => new Uint8Array([0xef, 0xbb, 0xbf, ...rest])),
  },
  { weight: 1, arbitrary: fc.constantFrom(new Uint8Array(0), HUGE_ASCII, HUGE_MIXED, HUGE_INVALID) },
);
const bodyArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: bytesBodyArb },
  { weight: 2, arbitrary: valueArb },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const hrTimeArb: fc.Arbitrary<HrTime> = fc.tuple(
  fc.oneof(fc.integer({ min: 0, max: 2 ** 34 }), fc.constant(1_700_000_000)),
  fc.integer({ min: 0, max: 999_999_999 }),
);
const spanContextArb = fc.option(
  fc.record({
    traceId: fc.constantFrom("", "0af7651916cd43dd8448eb211c80319c"),
    spanId: fc.constantFrom("", "b7ad6b7169203331"),
    traceFlags: fc.constantFrom(0, 1),
  }),
  { nil: undefined },
);
const recordArb = fc.record({
  resourceIndex: fc.nat({ max: 1000 }),
  scopeIndex: fc.nat(),
  hrTime: hrTimeArb,
  hrTimeObserved: hrTimeArb,
  body: bodyArb,
  attributes: attributesArb,
  droppedAttributesCount: fc.oneof(fc.constant(0), fc.nat(1000)),
  severityNumber: fc.option(fc.integer({ min: 0, max: 24 }), { nil: undefined }),
  severityText: fc.option(fc.constantFrom("", "INFO", "ERROR", "Warnung ⚠"), { nil: undefined }),
  eventName: fc.option(fc.constantFrom("", "k8s.pod.evicted", "événement"), { nil: undefined }),
  spanContext: spanContextArb,
});
const resourceArb = fc.record({
  attributes: attributesArb,
  schemaUrl: fc.option(fc.constantFrom("", "https://opentelemetry.io/schemas/1.26.0"), { nil: undefined }),
});
const scopeArb = fc.record({
  name: fc.constantFrom("containerstdout", "", "sçope"),
  version: fc.constantFrom("0.1.0", ""),
  schemaUrl: fc.option(fc.constant("https://x"), { nil: undefined }),
  attributes: fc.option(attributesArb, { nil: undefined }),
});
const batchArb = fc.record({
  resources: fc.array(resourceArb, { minLength: 1, maxLength: 40, size: "+1" }),
  scopes: fc.array(scopeArb, { minLength: 1, maxLength: 3 }),
  records: fc.array(recordArb, { maxLength: 80, size: "+1" }),
});

type BatchInput = typeof batchArb extends fc.Arbitrary<infer T> ? T : never;

function toRecords(batch: BatchInput): LogRecord[] {
  const resources = batch.resources as ResourceRef[];
  return batch.records.map(({ resourceIndex, scopeIndex, ...fields }) => ({
    ...fields,
    body: fields.body as LogRecord["body"],
    resource: resources[resourceIndex % resources.length],
    instrumentationScope: batch.scopes[scopeIndex % batch.scopes.length],
  }));
}

// ---- properties ----------------------------------------------------------------------------------------

/** What a batch exercised, so the test can check the generator covers what the property is about. */
function kindsIn(value: unknown, seen: Set<string>): void {
  if (typeof value === "number") seen.add(Number.isInteger(value) ? "int" : "double");
  else if (value instanceof Uint8Array) seen.add("bytes_value");
  else if (Array.isArray(value)) {
    seen.add("array");
    for (const item of value) kindsIn(item, seen);
  } else if (value !== null && typeof value === "object") {
    seen.add("kvlist");
    for (const item of Object.values(value)) kindsIn(item, seen);
  } else seen.add(value === null ? "empty" : typeof value);
}

function coverageOf(records: readonly LogRecord[], seen: Set<string>): void {
  const resources = new Set(records.map((r) => r.resource));
  if (resources.size >= 10) seen.add("10+ resources");
  if (new Set(records.map((r) => r.instrumentationScope)).size >= 2) seen.add("2+ scopes");
  for (const r of records) {
    for (const value of Object.values(r.attributes)) kindsIn(value, seen);
    if (!(r.body instanceof Uint8Array)) {
      if (r.body !== undefined) kindsIn(r.body, seen);
      continue;
    }
    if (r.body.length === 0) seen.add("empty body");
    if (r.body.length > 100_000) seen.add("huge body");
    const valid = isValidUtf8(r.body);
    if (r.body[0] === 0xef && r.body[1] === 0xbb && r.body[2] === 0xbf) {
      seen.add(valid ? "BOM body" : "BOM invalid body");
    }
    seen.add(valid ? "valid bytes body" : "invalid bytes body");
  }
}

Deno.test("encoder writes the oracle's request for any batch, byte for byte", () => {
  const encoder = new LogsRequestEncoder();
  const seen = new Set<string>();
  assertProperty(
    fc.property(batchArb, (batch) => {
      const records = toRecords(batch);
      coverageOf(records, seen);
      assertMatchesOracle(encoder, records);
    }),
    300,
  );
  const wanted = [
    "string",
    "boolean",
    "int",
    "double",
    "array",
    "kvlist",
    "bytes_value",
    "empty",
    "empty body",
    "huge body",
    "BOM body",
    "BOM invalid body",
    "valid bytes body",
    "invalid bytes body",
    "10+ resources",
    "2+ scopes",
  ];
  assert.deepEqual(wanted.filter((kind) => !seen.has(kind)), [], "the generator never produced these");
});

Deno.test("encoder reuses a cached resource across batches and re-encodes a new resource object", () => {
  const encoder = new LogsRequestEncoder();
  const scope = { name: "containerstdout", version: "0.1.0" };
  const record = (resource: ResourceRef, body: string): LogRecord => ({
    hrTime: [1, 2],
    hrTimeObserved: [3, 4],
    body: new TextEncoder().encode(body),
    attributes: { "log.iostream": "stdout" },
    droppedAttributesCount: 0,
    resource,
    instrumentationScope: scope,
  });
  const before = { attributes: { "k8s.pod.name": "web-0", "k8s.pod.labels": { app: "web" } as AttrValue } };
  const after = {
    attributes: { "k8s.pod.name": "web-0", "k8s.pod.labels": { app: "web", v: "2" } as AttrValue },
  };
  assertMatchesOracle(encoder, [record(before, "a"), record(before, "b")]);
  assertMatchesOracle(encoder, [record(before, "c"), record(after, "d"), record(before, "e")]);
  assertMatchesOracle(encoder, [record(after, "f")]);
});

Deno.test("encoder stops caching a record attribute whose values do not repeat, and stays exact", () => {
  const encoder = new LogsRequestEncoder();
  const resource = { attributes: {} };
  const scope = { name: "s", version: "" };
  for (let batch = 0; batch < 4; batch++) {
    const records: LogRecord[] = Array.from({ length: 700 }, (_, i) => ({
      hrTime: [batch, i],
      hrTimeObserved: [batch, i],
      body: "x",
      attributes: { "msg": `unique ${batch} ${i}`, "log.iostream": i % 2 ? "stdout" : "stderr" },
      droppedAttributesCount: 0,
      resource,
      instrumentationScope: scope,
    }));
    assertMatchesOracle(encoder, records);
  }
});

const BODY_CASES: { name: string; input: number[]; want: string; invalid: boolean }[] = [
  { name: "a lone continuation byte", input: [0x61, 0x80, 0x62], want: "a\ufffdb", invalid: true },
  { name: "a truncated 3-byte sequence", input: [0xe6, 0x97, 0x61], want: "\ufffda", invalid: true },
  { name: "an overlong encoding", input: [0xc0, 0xaf], want: "\ufffd\ufffd", invalid: true },
  { name: "an encoded surrogate", input: [0xed, 0xa0, 0x80], want: "\ufffd\ufffd\ufffd", invalid: true },
  {
    name: "a code point above U+10FFFF",
    input: [0xf4, 0x90, 0x80, 0x80],
    want: "\ufffd\ufffd\ufffd\ufffd",
    invalid: true,
  },
  { name: "a sequence cut at the end", input: [0x61, 0xf0, 0x9f, 0x9a], want: "a\ufffd", invalid: true },
  { name: "a leading BOM (kept, valid)", input: [0xef, 0xbb, 0xbf, 0x61], want: "\ufeffa", invalid: false },
  {
    name: "a BOM before invalid bytes (kept)",
    input: [0xef, 0xbb, 0xbf, 0xff],
    want: "\ufeff\ufffd",
    invalid: true,
  },
];

for (const { name, input, want, invalid } of BODY_CASES) {
  Deno.test(`encoder sends a bytes body holding ${name} as TextDecoder reads it, counted when invalid`, () => {
    const resource = { attributes: {} };
    const record: LogRecord = {
      hrTime: [1, 0],
      hrTimeObserved: [1, 0],
      body: new Uint8Array(input),
      attributes: {},
      droppedAttributesCount: 0,
      resource,
      instrumentationScope: { name: "s", version: "" },
    };
    const encoder = new LogsRequestEncoder();
    assert.equal(assertMatchesOracle(encoder, [record]), invalid ? 1 : 0);
    assert.equal(decodeLogsRequest(encoder.encode([record]).bytes)[0].scopes[0].records[0].body, want);
  });
}

Deno.test("encoder writes cached record attributes exactly when keys change order, values repeat or vary", () => {
  const encoder = new LogsRequestEncoder();
  const resource = { attributes: {} };
  const scope = { name: "s", version: "" };
  const paths = ["/var/log/pods/a/c/0.log", "/var/log/pods/b/c/0.log", "/var/log/pods/ünï/c/0.log"];
  const shapes: ((i: number) => Attributes)[] = [
    (i) => ({ "log.iostream": i % 3 ? "stdout" : "stderr", "log.file.path": paths[i % 3] }),
    (i) => ({ "log.file.path": paths[(i >> 2) % 3], "log.iostream": "stdout" }),
    (i) => ({ "log.iostream": "stdout", "extra": `${i % 2}`, "log.file.path": paths[0] }),
    (i) => ({ "log.file.path": i, "log.iostream": ["stdout"] }),
  ];
  for (let batch = 0; batch < 8; batch++) {
    const records: LogRecord[] = Array.from({ length: 50 }, (_, i) => ({
      hrTime: [batch, i],
      hrTimeObserved: [batch, i],
      body: "x",
      attributes: shapes[(batch + (i >> 3)) % shapes.length](i),
      droppedAttributesCount: 0,
      resource,
      instrumentationScope: scope,
    }));
    assertMatchesOracle(encoder, records);
  }
});

// ---- the response decoder against the transformer's ---------------------------------------------------

type Field = { field: number; wire: 0 | 1 | 2 | 5; payload: Uint8Array | number };

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function message(fields: readonly Field[]): Uint8Array {
  const out: number[] = [];
  for (const { field, wire, payload } of fields) {
    out.push(...varint(field * 8 + wire));
    if (wire === 0) out.push(...varint(payload as number));
    else if (wire === 2) out.push(...varint((payload as Uint8Array).length), ...(payload as Uint8Array));
    else out.push(...(payload as Uint8Array));
  }
  return new Uint8Array(out);
}

const unknownFieldArb: fc.Arbitrary<Field> = fc.oneof(
  fc.record({ field: fc.integer({ min: 3, max: 40 }), wire: fc.constant(0 as const), payload: fc.nat() }),
  fc.record({
    field: fc.integer({ min: 3, max: 40 }),
    wire: fc.constant(1 as const),
    payload: fc.uint8Array({ minLength: 8, maxLength: 8 }),
  }),
  fc.record({
    field: fc.integer({ min: 3, max: 40 }),
    wire: fc.constant(2 as const),
    payload: fc.uint8Array({ maxLength: 10 }),
  }),
  fc.record({
    field: fc.integer({ min: 3, max: 40 }),
    wire: fc.constant(5 as const),
    payload: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  }),
);
const partialSuccessArb = fc.tuple(
  fc.option(fc.oneof(fc.nat(), fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.constant(2 ** 40)), {
    nil: undefined,
  }),
  fc.option(fc.oneof(textArb.map((s) => encoder.encode(s)), fc.uint8Array({ maxLength: 12 })), {
    nil: undefined,
  }),
  fc.array(unknownFieldArb, { maxLength: 3 }),
).chain(([rejected, text, unknown]) => {
  const fields: Field[] = [...unknown];
  if (rejected !== undefined) fields.push({ field: 1, wire: 0, payload: rejected });
  if (text !== undefined) fields.push({ field: 2, wire: 2, payload: text });
  return fc.shuffledSubarray(fields, { minLength: fields.length, maxLength: fields.length }).map(message);
});
const responseArb = fc.tuple(
  fc.option(partialSuccessArb, { nil: undefined }),
  fc.array(unknownFieldArb, { maxLength: 3 }),
)
  .map(([partial, unknown]) =>
    message(partial === undefined ? unknown : [...unknown, { field: 1, wire: 2, payload: partial }])
  );

Deno.test("decodeLogsResponse reads any well-formed response as the transformer's deserializer does", () => {
  let sawPartial = 0;
  assertProperty(
    fc.property(responseArb, (bytes) => {
      const want = ProtobufLogsSerializer.deserializeResponse(bytes);
      if (want.partialSuccess !== undefined) sawPartial++;
      assert.deepEqual(decodeLogsResponse(bytes), {
        ok: true,
        rejectedLogRecords: want.partialSuccess?.rejectedLogRecords ?? 0,
        errorMessage: want.partialSuccess?.errorMessage ?? "",
      });
    }),
    300,
  );
  assert.ok(sawPartial > 50, `only ${sawPartial} responses held a partial success`);
});

Deno.test("decodeLogsResponse never throws on arbitrary bytes, and fails where the transformer throws", () => {
  assertProperty(
    fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      const got = decodeLogsResponse(bytes);
      let oracleThrew = false;
      try {
        ProtobufLogsSerializer.deserializeResponse(bytes);
      } catch {
        oracleThrew = true;
      }
      if (oracleThrew) assert.equal(got.ok, false);
    }),
    1000,
  );
});
