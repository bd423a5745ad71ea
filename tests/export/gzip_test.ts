import { Buffer } from "node:buffer";
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { gzipLevel1, GzipStream } from "../../src/export/mod.ts";

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const CASES: [name: string, plain: Uint8Array][] = [
  ["an empty body", new Uint8Array(0)],
  ["a small body", new TextEncoder().encode("hello")],
  ["a repetitive body", new TextEncoder().encode("step=1 loss=0.25 ".repeat(20_000))],
  // Incompressible: deflate's stored blocks make the output larger than the input.
  ["an incompressible body", randomBytes(300_001, 7)],
];

for (const [name, plain] of CASES) {
  Deno.test(`gzipLevel1 round-trips ${name} into a buffer of its own and of its exact size`, () => {
    const body = gzipLevel1(plain);
    assert.equal(body.byteOffset, 0);
    assert.equal(body.byteLength, body.buffer.byteLength);
    assert.deepEqual(new Uint8Array(gunzipSync(body)), plain);
    // The caller may free it; nothing else shares it.
    body.buffer.transfer(0);
    assert.equal(body.byteLength, 0);
  });
}

Deno.test("gzipLevel1 leaves other Buffers alone when it frees its output chunk", () => {
  const bystander = Buffer.from("still here");
  for (let i = 0; i < 50; i++) gzipLevel1(randomBytes(1_000 + i * 977, i + 1));
  assert.equal(bystander.toString(), "still here");
});

Deno.test("GzipStream reuses one zlib stream on this runtime", () => {
  // The fast path drives node:zlib internals; when a runtime upgrade removes them, every body takes
  // gzipSync (correct, but slower and harder on the heap). This test makes that visible.
  assert.equal(new GzipStream().isReusingStream, true);
});

for (const reuseStream of [true, false]) {
  Deno.test(`GzipStream (reuseStream: ${reuseStream}) round-trips bodies of every size, one after another`, () => {
    const gzip = new GzipStream({ reuseStream });
    assert.equal(gzip.isReusingStream, reuseStream);
    // Incompressible bodies past the kept output buffer's size (256 KiB) make it grow, and one past 4 MiB
    // makes it start over; the bodies after each must still come out whole.
    const sizes = [0, 1, 5_000, 300_001, 70_000, 4_500_000, 12, 600_000];
    for (const [i, size] of sizes.entries()) {
      const plain = i % 2 === 0 ? randomBytes(size, i + 11) : new TextEncoder().encode("x".repeat(size));
      const body = gzip.compress(plain);
      assert.equal(body.byteOffset, 0);
      assert.equal(body.byteLength, body.buffer.byteLength);
      assert.deepEqual(new Uint8Array(gunzipSync(body)), plain, `body ${i} (${size} B)`);
    }
  });
}

Deno.test("GzipStream.compressView gives a view that holds until the next call", () => {
  const gzip = new GzipStream();
  const first = new TextEncoder().encode("first body ".repeat(500));
  const view = gzip.compressView(first);
  const kept = view.slice();
  assert.deepEqual(new Uint8Array(gunzipSync(kept)), first);
  gzip.compressView(new TextEncoder().encode("second"));
  // The view now shows the second body's bytes (the buffer is reused), which is why callers copy.
  assert.notDeepEqual(view.slice(0, kept.length), kept);
});
