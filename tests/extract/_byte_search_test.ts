import { Buffer } from "node:buffer";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteSearch } from "../../src/extract/_byte_search.ts";
import { assertProperty } from "../_helpers/property.ts";

// Bytes from a small alphabet so hits are common, at any offset into a larger buffer (unaligned views),
// up to past the scratch size (the indexOf fallback).
const ALPHABET = [0x5f, 0x74, 0x69, 0x6d, 0x65, 0x20, 0xe5, 0x00, 0xff];
const bytes = fc.oneof(
  fc.integer({ min: 0, max: 200 }),
  fc.integer({ min: 4090, max: 4200 }),
).chain((n) => fc.array(fc.constantFrom(...ALPHABET), { minLength: n, maxLength: n }));
const needle = fc.constantFrom("_time", "_", "time", "e _", "\u00e5").map((t) => new TextEncoder().encode(t));

Deno.test("ByteSearch.includes agrees with a naive search at any alignment, length and reuse", () => {
  const search = new ByteSearch();
  let hits = 0;
  let misses = 0;
  assertProperty(
    fc.property(bytes, fc.nat(7), needle, (data, pad, n) => {
      const buffer = new Uint8Array(pad + data.length);
      buffer.set(data, pad);
      const view = buffer.subarray(pad);
      const want = Buffer.from(view).includes(Buffer.from(n));
      assert.equal(search.includes(view, n), want);
      if (want) hits++;
      else misses++;
    }),
    1000,
  );
  assert.ok(hits > 100 && misses > 100, `generator: ${hits} hits, ${misses} misses`);
});

Deno.test("ByteSearch.includes does not see bytes a longer earlier body left in its scratch", () => {
  const search = new ByteSearch();
  const encoder = new TextEncoder();
  assert.equal(search.includes(encoder.encode("x".repeat(100) + "_time"), encoder.encode("_time")), true);
  assert.equal(search.includes(encoder.encode("x".repeat(100)), encoder.encode("_time")), false);
  assert.equal(search.includes(encoder.encode("x".repeat(102) + "_"), encoder.encode("_time")), false);
});
