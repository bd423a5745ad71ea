/**
 * gzip for request bodies, written so that compressing leaves no garbage behind.
 *
 * `node:zlib`'s `gzipSync` writes its output in 16 KiB chunks and joins them. The chunks and the joined
 * buffer are external memory that V8 frees only when the objects that own them are collected, and a busy
 * agent piled them up until V8's external-memory limit forced a full collection. This module gives zlib
 * one output chunk large enough for the compressed bytes (a quarter of the input), so there is usually
 * nothing to join. It copies the compressed bytes into a buffer of their exact size, which the caller owns
 * and may free with `ArrayBuffer.prototype.transfer(0)`, and it frees the large chunk at once.
 *
 * Measured in a bare process, 1,000 calls on a 394 KB log request (65 KB compressed): RSS peaked at
 * 119 MiB the default way and at 63 MiB this way. The extra copy is of the compressed bytes only.
 *
 * @module
 */

import { gzipSync } from "node:zlib";

/**
 * The smallest output chunk. Larger than `Buffer.poolSize`, so zlib's output never comes from Node's
 * shared pool, and freeing it frees nothing else.
 */
const MIN_CHUNK_BYTES = 64 * 1024;
/** Room for deflate's worst-case growth on incompressible input (5 bytes per 16 KiB block) and the header. */
const GROWTH_BYTES = 1024;

/**
 * `plain` compressed with gzip at level 1, in a buffer of its own and of its exact size.
 *
 * @example
 * ```ts
 * const body = gzipLevel1(new TextEncoder().encode("hello ".repeat(1000)));
 * body.byteLength === body.buffer.byteLength; // true
 * ```
 */
export function gzipLevel1(plain: Uint8Array): Uint8Array<ArrayBuffer> {
  // Log requests compress 5-8x at level 1: a quarter of the input holds the output, with less to allocate
  // (and zero) per call than the whole input. Output that does not fit (incompressible input) goes on in
  // more chunks, joined by zlib, and is copied and freed the same way.
  const chunk = Math.max(MIN_CHUNK_BYTES, (plain.length >>> 2) + GROWTH_BYTES);
  const out = gzipSync(plain, { level: 1, chunkSize: chunk });
  const body = new Uint8Array(out.byteLength);
  body.set(out);
  const buffer = out.buffer as ArrayBuffer;
  if (buffer.byteLength >= MIN_CHUNK_BYTES && !buffer.detached) buffer.transfer(0);
  return body;
}
