import assert from "node:assert/strict";
import { encodeLogsRequest } from "../../src/export/otlp_encode.ts";
import type { AttrValue, LogRecord } from "../../src/record.ts";
import { decodeTypedRecords, type TypedValue } from "../_fakes/otlp_typed_values.ts";

const CASES: { name: string; value: AttrValue; want: TypedValue }[] = [
  { name: "a bigint zero", value: 0n, want: { int: 0n } },
  { name: "a bigint just past 2^53", value: 2n ** 53n + 1n, want: { int: 2n ** 53n + 1n } },
  { name: "the largest int64", value: 2n ** 63n - 1n, want: { int: 2n ** 63n - 1n } },
  { name: "the smallest int64", value: -(2n ** 63n), want: { int: -(2n ** 63n) } },
  { name: "a negative bigint", value: -5n, want: { int: -5n } },
  { name: "an integral double", value: Float64Array.of(1), want: { double: 1 } },
  { name: "a large integral double", value: Float64Array.of(1e21), want: { double: 1e21 } },
  { name: "a plain integral number (int, as before)", value: 7, want: { int: 7n } },
  { name: "a plain fraction (double, as before)", value: 0.5, want: { double: 0.5 } },
  {
    name: "markers nested in a kvlist and an array",
    value: { a: [1n, Float64Array.of(2)] },
    want: { kvlist: { a: [{ int: 1n }, { double: 2 }] } },
  },
];

for (const c of CASES) {
  Deno.test(`encoder writes ${c.name} with its wire type, as body and as attribute`, () => {
    const record: LogRecord = {
      hrTime: [1, 0],
      hrTimeObserved: [1, 0],
      body: c.value,
      attributes: { v: c.value },
      droppedAttributesCount: 0,
      resource: { attributes: {} },
      instrumentationScope: { name: "t", version: "0" },
    };
    const [decoded] = decodeTypedRecords(encodeLogsRequest([record]));
    assert.deepEqual(decoded.body, c.want);
    assert.deepEqual(decoded.attributes.v, c.want);
  });
}
