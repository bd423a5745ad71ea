import { Buffer } from "node:buffer";
import assert from "node:assert/strict";
import { gunzipSync, zstdDecompressSync } from "node:zlib";
import { type BodyCodec, BodyCompressor, compressLevel1, gzipLevel1 } from "../../src/export/mod.ts";

const CODECS: readonly BodyCodec[] = ["gzip", "zstd"];

/** Decodes `bytes` with a decoder of the runtime's other path (not the compressor's own stream). */
function decode(codec: BodyCodec, bytes: Uint8Array): Uint8Array {
  return new Uint8Array(codec === "gzip" ? gunzipSync(bytes) : zstdDecompressSync(bytes));
}

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

for (const codec of CODECS) {
  for (const [name, plain] of CASES) {
    Deno.test(`compressLevel1 (${codec}) round-trips ${name} into a buffer of its own and of its exact size`, () => {
      const body = compressLevel1(codec, plain);
      assert.equal(body.byteOffset, 0);
      assert.equal(body.byteLength, body.buffer.byteLength);
      assert.deepEqual(decode(codec, body), plain);
      // The caller may free it; nothing else shares it.
      body.buffer.transfer(0);
      assert.equal(body.byteLength, 0);
    });
  }
}

Deno.test("gzipLevel1 leaves other Buffers alone when it frees its output chunk", () => {
  const bystander = Buffer.from("still here");
  for (let i = 0; i < 50; i++) gzipLevel1(randomBytes(1_000 + i * 977, i + 1));
  assert.equal(bystander.toString(), "still here");
});

for (const codec of CODECS) {
  Deno.test(`BodyCompressor (${codec}) reuses one stream on this runtime`, () => {
    // The fast path drives node:zlib internals; when a runtime upgrade removes them, every body takes the
    // one-shot call (correct, but slower and harder on the heap). This test makes that visible.
    assert.equal(new BodyCompressor(codec).isReusingStream, true);
  });

  for (const reuseStream of [true, false]) {
    Deno.test(
      `BodyCompressor (${codec}, reuseStream: ${reuseStream}) round-trips bodies of every size, one after another`,
      () => {
        const compressor = new BodyCompressor(codec, { reuseStream });
        assert.equal(compressor.isReusingStream, reuseStream);
        // Incompressible bodies past the kept output buffer's size (256 KiB) make it grow, and one past
        // 4 MiB makes it start over; the bodies after each must still come out whole.
        const sizes = [0, 1, 5_000, 300_001, 70_000, 4_500_000, 12, 600_000];
        for (const [i, size] of sizes.entries()) {
          const plain = i % 2 === 0 ? randomBytes(size, i + 11) : new TextEncoder().encode("x".repeat(size));
          const body = compressor.compress(plain);
          assert.equal(body.byteOffset, 0);
          assert.equal(body.byteLength, body.buffer.byteLength);
          assert.deepEqual(decode(codec, body), plain, `body ${i} (${size} B)`);
        }
      },
    );
  }

  Deno.test(`BodyCompressor (${codec}).compressView gives a view that holds until the next call`, () => {
    const compressor = new BodyCompressor(codec);
    const first = new TextEncoder().encode("first body ".repeat(500));
    const view = compressor.compressView(first);
    const kept = view.slice();
    assert.deepEqual(decode(codec, kept), first);
    compressor.compressView(new TextEncoder().encode("second"));
    // The view now shows the second body's bytes (the buffer is reused), which is why callers copy.
    assert.notDeepEqual(view.slice(0, kept.length), kept);
  });
}

Deno.test("zstd sends fewer bytes than gzip for a log request", () => {
  const lines = Array.from(
    { length: 2_000 },
    (_, i) => `{"ts":${1_700_000_000 + i},"level":"info","step":${i},"loss":${(1 / (i + 1)).toFixed(6)}}\n`,
  ).join("");
  const plain = new TextEncoder().encode(lines);
  const gzip = new BodyCompressor("gzip").compress(plain).length;
  const zstd = new BodyCompressor("zstd").compress(plain).length;
  assert.ok(zstd < gzip, `zstd ${zstd} B, gzip ${gzip} B`);
});
