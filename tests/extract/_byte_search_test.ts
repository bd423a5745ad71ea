import { Buffer } from "node:buffer";
import assert from "node:assert/strict";
import fc from "fast-check";
import { includesBytes, indexOfByte } from "../../src/extract/_byte_search.ts";
import { assertProperty } from "../_helpers/property.ts";

// Bytes from a small alphabet so hits are common, at any offset into a larger buffer (unaligned views).
const ALPHABET = [0x5f, 0x74, 0x69, 0x6d, 0x65, 0x20, 0xe5, 0x00, 0xff];
const bytes = fc.integer({ min: 0, max: 200 }).chain((n) =>
  fc.array(fc.constantFrom(...ALPHABET), { minLength: n, maxLength: n })
);

Deno.test("indexOfByte finds the same index as Uint8Array indexOf at any alignment and start", () => {
  let found = 0;
  assertProperty(
    fc.property(
      bytes,
      fc.nat(7),
      fc.nat(40),
      fc.constantFrom(0x5f, 0x00, 0xff, 0x41),
      (data, pad, from, byte) => {
        const buffer = new Uint8Array(pad + data.length);
        buffer.set(data, pad);
        const view = buffer.subarray(pad);
        const start = Math.min(from, view.length);
        const want = view.indexOf(byte, start);
        assert.equal(indexOfByte(view, byte, start), want);
        if (want >= 0) found++;
      },
    ),
  );
  assert.ok(found > 50, `only ${found} hits generated`);
});

Deno.test("includesBytes agrees with a naive search", () => {
  const needle = fc.constantFrom("_time", "_", "time", "e _").map((t) => new TextEncoder().encode(t));
  assertProperty(
    fc.property(bytes, fc.nat(3), needle, (data, pad, n) => {
      const buffer = new Uint8Array(pad + data.length);
      buffer.set(data, pad);
      const view = buffer.subarray(pad);
      const naive = Buffer.from(view).includes(Buffer.from(n));
      assert.equal(includesBytes(view, n), naive);
    }),
  );
});
