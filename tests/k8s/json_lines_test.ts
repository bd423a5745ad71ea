import assert from "node:assert/strict";
import fc from "fast-check";
import { type JsonLineResult, JsonLinesDecoder } from "../../src/k8s/mod.ts";

const encoder = new TextEncoder();

function decodeChunks(chunks: Array<string | Uint8Array>, maxLineChars?: number): JsonLineResult[] {
  const decoder = new JsonLinesDecoder({ maxLineChars });
  const out: JsonLineResult[] = [];
  for (const chunk of chunks) {
    out.push(...decoder.push(typeof chunk === "string" ? encoder.encode(chunk) : chunk));
  }
  out.push(...decoder.end());
  return out;
}

const euro = encoder.encode('{"s":"€"}\n'); // € is 3 bytes: split inside it below

const cases: Array<
  { name: string; chunks: Array<string | Uint8Array>; want: JsonLineResult[]; max?: number }
> = [
  { name: "one object per chunk", chunks: ['{"a":1}\n', '{"a":2}\n'], want: [ok({ a: 1 }), ok({ a: 2 })] },
  { name: "two objects in one chunk", chunks: ['{"a":1}\n{"a":2}\n'], want: [ok({ a: 1 }), ok({ a: 2 })] },
  {
    name: "an object split across three chunks",
    chunks: ['{"ty', 'pe":"ADD', 'ED"}\n'],
    want: [ok({ type: "ADDED" })],
  },
  {
    name: "a UTF-8 character split across chunks",
    chunks: [euro.subarray(0, 7), euro.subarray(7)],
    want: [ok({ s: "€" })],
  },
  { name: "blank lines skipped", chunks: ["\n\n", '{"a":1}\n', "  \n"], want: [ok({ a: 1 })] },
  {
    name: "a last line without newline ends the stream",
    chunks: ['{"a":1}\n{"a":2}'],
    want: [ok({ a: 1 }), ok({ a: 2 })],
  },
  {
    name: "a malformed line reported, the next one decoded",
    chunks: ['{"a":\n{"a":2}\n'],
    want: [bad("malformed_json"), ok({ a: 2 })],
  },
  {
    name: "a line over the limit skipped, the next one decoded",
    chunks: ['{"a":"', "x".repeat(30), '"}\n{"b":1}\n'],
    want: [bad("line_too_long"), ok({ b: 1 })],
    max: 20,
  },
]; // deno-fmt-ignore

function ok(value: unknown): JsonLineResult {
  return { ok: true, value };
}

function bad(reason: "malformed_json" | "line_too_long"): JsonLineResult {
  return { ok: false, reason };
}

for (const c of cases) {
  Deno.test(`json lines decoder handles ${c.name}`, () => {
    assert.deepEqual(decodeChunks(c.chunks, c.max), c.want);
  });
}

Deno.test("json lines decoder gives the same values for any chunking of the stream", () => {
  const value = fc.oneof(
    fc.string({ unit: "grapheme" }),
    fc.integer(),
    fc.dictionary(fc.string(), fc.string()),
  );
  const property = fc.property(
    fc.array(value, { minLength: 1, maxLength: 8 }),
    fc.array(fc.nat(), { maxLength: 12 }),
    (values, cuts) => {
      const bytes = encoder.encode(values.map((v) => JSON.stringify(v) + "\n").join(""));
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const chunks: Uint8Array[] = [];
      let at = 0;
      for (const p of [...points, bytes.length]) {
        chunks.push(bytes.subarray(at, p));
        at = p;
      }
      assert.deepEqual(decodeChunks(chunks), values.map((v) => ok(JSON.parse(JSON.stringify(v)))));
    },
  );
  const pinned = Deno.env.get("FC_SEED");
  const seed = pinned === undefined ? (Math.random() * 2 ** 31) | 0 : Number(pinned);
  try {
    fc.assert(property, { seed, numRuns: 300 });
  } catch (thrown) {
    console.error(`Property failed with seed ${seed} (replay: FC_SEED=${seed})`);
    throw thrown;
  }
});
