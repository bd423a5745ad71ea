import assert from "node:assert/strict";
import fc from "fast-check";
import { indexOfNewline, wordsOf } from "../../src/assemble/_newline_search.ts";
import { assertProperty } from "../_helpers/property.ts";

Deno.test("indexOfNewline finds what indexOf finds in [from, end), at any alignment, ignoring bytes past end", () => {
  // Bytes near "\n" (0x0a) in every lane, so a wrong bit trick would show: 0x0a, 0x0b, 0x8a, 0x09, 0x00.
  const byteArb = fc.oneof(
    fc.constantFrom(0x0a, 0x0b, 0x8a, 0x09, 0x00, 0xff),
    fc.integer({ min: 0, max: 255 }),
  );
  assertProperty(
    fc.property(
      fc.array(byteArb, { maxLength: 80 }),
      fc.nat({ max: 3 }).map((k) => k * 4),
      fc.nat({ max: 90 }),
      fc.nat({ max: 90 }),
      (data, offset, a, b) => {
        // A view at a 4-byte aligned offset of a larger buffer, as the read arena hands out; newlines
        // after the view's end must not be found.
        const backing = new Uint8Array(offset + data.length + 8).fill(10);
        backing.set(data, offset);
        const bytes = backing.subarray(offset, offset + data.length);
        const words = wordsOf(bytes)!;
        const end = Math.min(Math.max(a, b), data.length);
        const from = Math.min(a, b, end);
        const expected = bytes.subarray(0, end).indexOf(10, from);
        assert.equal(indexOfNewline(bytes, words, from, end), expected);
      },
    ),
    3000,
  );
});

Deno.test("wordsOf views the same memory, and refuses an unaligned view", () => {
  const backing = new Uint8Array(16);
  const words = wordsOf(backing.subarray(4, 13))!;
  assert.equal(words.length, 2);
  backing[4] = 10;
  assert.notEqual(words[0], 0);
  assert.equal(wordsOf(backing.subarray(1, 9)), null);
});
