import assert from "node:assert/strict";
import fc from "fast-check";
import { copyLines, indexOfNewline } from "../../src/assemble/_line_chunk.ts";
import { assertProperty } from "../_helpers/property.ts";

Deno.test("indexOfNewline finds what indexOf finds, from any start, at any alignment", () => {
  // Bytes near "\n" (0x0a) in every lane, so a wrong bit trick would show: 0x0a, 0x0b, 0x8a, 0x09, 0x00.
  const byteArb = fc.oneof(
    fc.constantFrom(0x0a, 0x0b, 0x8a, 0x09, 0x00, 0xff),
    fc.integer({ min: 0, max: 255 }),
  );
  assertProperty(
    fc.property(
      fc.uint8Array({ maxLength: 64 }),
      fc.array(byteArb, { maxLength: 64 }),
      fc.nat({ max: 7 }),
      fc.nat({ max: 7 }),
      fc.nat({ max: 70 }),
      (prefix, middle, lead, trail, from) => {
        const data = Uint8Array.from([...prefix, ...middle]);
        const buf = new Uint8Array(lead + data.length + trail).fill(10);
        buf.set(data, lead);
        const chunk = copyLines(buf, lead, lead + data.length);
        assert.equal(chunk.length, data.length);
        assert.equal(chunk.bytes.length % 4, 0);
        const start = Math.min(from, data.length);
        assert.equal(indexOfNewline(chunk, start), data.indexOf(10, start));
      },
    ),
    3000,
  );
});

Deno.test("copyLines copies: the chunk does not change when the read buffer is reused", () => {
  const buf = new TextEncoder().encode("a\nbb\n");
  const chunk = copyLines(buf, 0, buf.length);
  buf.fill(0);
  assert.equal(new TextDecoder().decode(chunk.bytes.subarray(0, chunk.length)), "a\nbb\n");
  assert.deepEqual([indexOfNewline(chunk, 0), indexOfNewline(chunk, 2), indexOfNewline(chunk, 5)], [
    1,
    4,
    -1,
  ]);
});
