import assert from "node:assert/strict";
import fc from "fast-check";
import { BodySlabs } from "../../src/export/body_slabs.ts";
import { assertProperty } from "../_helpers/property.ts";

const filled = (n: number, byte: number): Uint8Array => new Uint8Array(n).fill(byte);

Deno.test("BodySlabs keeps every body intact until it is released, whatever the order of releases", () => {
  // Small slabs so that bodies span several, and releases empty, reuse and free them.
  const op = fc.oneof(
    fc.record({
      kind: fc.constant("copy" as const),
      // Most fit in a 4 KiB slab's quarter; some get a buffer of their own.
      size: fc.oneof(fc.nat(1024), fc.integer({ min: 200, max: 1024 }), fc.integer({ min: 1025, max: 1200 })),
    }),
    fc.record({ kind: fc.constant("release" as const), pick: fc.nat() }),
  );
  let maxSlabs = 0;
  assertProperty(
    fc.property(fc.array(op, { minLength: 30, maxLength: 200 }), (ops) => {
      const slabs = new BodySlabs({ slabBytes: 4096, keepFree: 1 });
      const live: { body: Uint8Array<ArrayBuffer>; byte: number; size: number }[] = [];
      let serial = 0;
      for (const o of ops) {
        if (o.kind === "copy") {
          const byte = ++serial & 0xff;
          const body = slabs.copy(filled(o.size, byte));
          assert.equal(body.length, o.size);
          live.push({ body, byte, size: o.size });
        } else if (live.length > 0) {
          const [gone] = live.splice(o.pick % live.length, 1);
          slabs.release(gone.body);
        }
        for (const { body, byte, size } of live) {
          assert.equal(body.length, size);
          assert.ok(body.every((b) => b === byte), `a live body of ${size} B was overwritten`);
        }
        maxSlabs = Math.max(maxSlabs, slabs.slabs);
      }
    }),
    300,
  );
  assert.ok(maxSlabs >= 3, `the generator should fill several slabs (saw at most ${maxSlabs})`);
});

Deno.test("BodySlabs reuses an emptied slab instead of allocating another", () => {
  const slabs = new BodySlabs({ slabBytes: 1024, keepFree: 1 });
  // 200 B bodies (8-byte aligned, at most a quarter of a slab): five fit in 1 KiB, the sixth starts a second.
  const first = Array.from({ length: 5 }, (_, i) => slabs.copy(filled(200, i)));
  assert.ok(first.every((body) => body.buffer === first[0].buffer));
  const sixth = slabs.copy(filled(200, 5));
  assert.notEqual(sixth.buffer, first[0].buffer);
  assert.equal(slabs.slabs, 2);
  // The first slab empties: kept (keepFree 1), and taken again when the second one is full.
  for (const body of first) slabs.release(body);
  assert.equal(slabs.slabs, 2);
  const more = Array.from({ length: 5 }, (_, i) => slabs.copy(filled(200, 10 + i)));
  assert.equal(more[4].buffer, first[0].buffer);
  assert.equal(slabs.slabs, 2);
  assert.ok(sixth.every((x) => x === 5));
});

Deno.test("BodySlabs frees an emptied slab past keepFree at once, and gives large bodies their own buffer", () => {
  const slabs = new BodySlabs({ slabBytes: 1024, keepFree: 0 });
  const first = Array.from({ length: 5 }, (_, i) => slabs.copy(filled(200, i)));
  const sixth = slabs.copy(filled(200, 5));
  const firstSlab = first[0].buffer;
  for (const body of first) slabs.release(body);
  assert.equal(firstSlab.byteLength, 0, "the emptied first slab was freed (keepFree 0)");
  assert.equal(slabs.slabs, 1);
  const large = slabs.copy(filled(300, 9)); // over a quarter of a slab
  assert.equal(large.byteLength, large.buffer.byteLength);
  assert.equal(slabs.slabs, 1);
  slabs.release(large);
  assert.equal(large.buffer.byteLength, 0, "a body of its own is freed on release");
  assert.ok(sixth.every((x) => x === 5));
});

Deno.test("BodySlabs starts the current slab over when its bodies are all released", () => {
  const slabs = new BodySlabs({ slabBytes: 1024 });
  const a = slabs.copy(filled(100, 1));
  slabs.release(a);
  const b = slabs.copy(filled(100, 2));
  assert.equal(b.buffer, a.buffer);
  assert.equal(b.byteOffset, 0);
});
