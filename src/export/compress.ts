/**
 * Request body compression (gzip, or zstd where the endpoint accepts it), written so that compressing
 * leaves no garbage behind.
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
 * The exporter goes one step further with {@linkcode BodyCompressor}: one stream for its whole life,
 * reset between requests, writing into one output buffer it keeps. `gzipSync` sets up a new deflate state
 * for every call (about 320 KB in four allocations, three of them 64 KiB) and an output chunk, and frees
 * them again. Under ingest that is some 400 large allocations a second, and glibc serves them from the
 * same heap as the compressed requests that wait in the export queue. With the other large short-lived
 * blocks (see body_slabs.ts) the heap fragmented: a 2M-line ingest peaked at 58-61 MiB of malloc heap
 * (bench/RESULTS.md, "Memory: the malloc heap").
 *
 * zstd (level 1) is the other codec: on log requests it costs 10-20% less CPU than gzip level 1 and its
 * output is 30-35% smaller (docs/encoding.md). OTLP/HTTP names only gzip, so zstd is for
 * endpoints that accept `Content-Encoding: zstd`, such as the OpenTelemetry Collector's OTLP receiver.
 *
 * @module
 */

import {
  constants,
  createGzip,
  createZstdCompress,
  gunzipSync,
  gzipSync,
  zstdCompressSync,
  zstdDecompressSync,
} from "node:zlib";

/** The codecs a request body can be compressed with (its `Content-Encoding`). */
export type BodyCodec = "gzip" | "zstd";

/**
 * The smallest output chunk. Larger than `Buffer.poolSize`, so zlib's output never comes from Node's
 * shared pool, and freeing it frees nothing else.
 */
const MIN_CHUNK_BYTES = 64 * 1024;
/**
 * Room for the worst-case growth on incompressible input and the header: deflate adds 5 bytes per 16 KiB
 * stored block, zstd 3 bytes per 128 KiB raw block.
 */
const GROWTH_BYTES = 1024;
const ZSTD_LEVEL_1 = { [constants.ZSTD_c_compressionLevel]: 1 };

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
  return ownCopy(gzipSync(plain, { level: 1, chunkSize: chunkFor(plain) }));
}

/** `plain` compressed with `codec` at level 1, in a buffer of its own and of its exact size. */
export function compressLevel1(codec: BodyCodec, plain: Uint8Array): Uint8Array<ArrayBuffer> {
  return CODECS[codec].compressOnce(plain);
}

/**
 * The output chunk for one call. Log requests compress 5-8x at level 1: a quarter of the input holds the
 * output, with less to allocate (and zero) per call than the whole input. Output that does not fit
 * (incompressible input) goes on in more chunks, joined by zlib, and is copied and freed the same way.
 */
function chunkFor(plain: Uint8Array): number {
  return Math.max(MIN_CHUNK_BYTES, (plain.length >>> 2) + GROWTH_BYTES);
}

/** A copy of `out` of its exact size; `out`'s chunk is freed at once when it is one of its own. */
function ownCopy(out: Uint8Array): Uint8Array<ArrayBuffer> {
  const body = new Uint8Array(out.byteLength);
  body.set(out);
  const buffer = out.buffer as ArrayBuffer;
  if (buffer.byteLength >= MIN_CHUNK_BYTES && !buffer.detached) buffer.transfer(0);
  return body;
}

/** A compressed body past this size leaves the kept output buffer to be freed, not kept. */
const KEEP_OUTPUT_MAX_BYTES = 4 * 1024 * 1024;
const INITIAL_OUTPUT_BYTES = 256 * 1024;

/** The parts of a `node:zlib` engine that {@linkcode BodyCompressor} drives directly. */
interface ZlibHandle {
  reset(): void;
  writeSync(
    flush: number,
    input: Uint8Array,
    inOffset: number,
    inLength: number,
    output: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void;
  close(): void;
  onerror: (message: string, errno: number) => void;
}

/** What differs between the codecs, for {@linkcode compressLevel1} and {@linkcode BodyCompressor}. */
interface CodecSpec {
  /** One-shot compression at level 1 into a buffer of its own and of its exact size. */
  compressOnce(plain: Uint8Array): Uint8Array<ArrayBuffer>;
  /** A `node:zlib` engine at level 1. */
  createEngine(): unknown;
  /** The flush that ends a stream (`Z_FINISH`, `ZSTD_e_end`). */
  finishFlush: number;
  decompress(bytes: Uint8Array): Uint8Array;
}

const CODECS: Record<BodyCodec, CodecSpec> = {
  gzip: {
    compressOnce: gzipLevel1,
    createEngine: () => createGzip({ level: 1 }),
    finishFlush: constants.Z_FINISH,
    decompress: (bytes) => gunzipSync(bytes),
  },
  zstd: {
    compressOnce: (plain) =>
      ownCopy(zstdCompressSync(plain, { params: ZSTD_LEVEL_1, chunkSize: chunkFor(plain) })),
    createEngine: () => createZstdCompress({ params: ZSTD_LEVEL_1 }),
    finishFlush: constants.ZSTD_e_end,
    decompress: (bytes) => zstdDecompressSync(bytes),
  },
};

/**
 * Compresses bodies at level 1 through one stream of `codec` reused for every body (reset in between), into
 * one output buffer it keeps. {@linkcode compressView} returns a view of that buffer (the exporter copies it
 * into its body slabs); {@linkcode compress} a copy of its own and of its exact size, as
 * {@linkcode compressLevel1}'s.
 *
 * It drives the engine's native handle the way `node:zlib`'s own synchronous path does (`writeSync` with
 * the results in `_writeState`), since the public synchronous API closes the stream after each call. These
 * are internals of the runtime's Node layer: the constructor checks that they are there and that a sample
 * round-trips, and otherwise every call takes {@linkcode compressLevel1} ({@linkcode isReusingStream} says
 * which). Not reentrant; synchronous.
 *
 * @example
 * ```ts
 * const gzip = new BodyCompressor("gzip");
 * const body = gzip.compress(new TextEncoder().encode("hello ".repeat(1000)));
 * body.byteLength === body.buffer.byteLength; // true
 * ```
 */
export class BodyCompressor {
  readonly codec: BodyCodec;
  readonly #spec: CodecSpec;
  /** The engine object, held so that nothing of it is collected while its handle is in use. */
  #engine: unknown = null;
  #handle: ZlibHandle | null = null;
  #state: Uint32Array = new Uint32Array(2);
  #out: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  #error: string | null = null;

  /** `reuseStream: false` takes the one-shot path for every call (what happens without the internals). */
  constructor(codec: BodyCodec, options: { reuseStream?: boolean } = {}) {
    this.codec = codec;
    this.#spec = CODECS[codec];
    if (options.reuseStream === false) return;
    try {
      const engine = this.#spec.createEngine() as { _handle?: ZlibHandle; _writeState?: unknown };
      this.#engine = engine;
      const handle = engine._handle;
      const state = engine._writeState;
      if (
        handle === undefined || typeof handle.writeSync !== "function" ||
        typeof handle.reset !== "function" ||
        !(state instanceof Uint32Array) || state.length < 2
      ) {
        return;
      }
      // Errors reach the handle's callback, not a throw: keep the message and throw it from compress.
      handle.onerror = (message: string) => this.#error = message;
      this.#handle = handle;
      this.#state = state;
      this.#out = new Uint8Array(INITIAL_OUTPUT_BYTES);
      const sample = new TextEncoder().encode(`containerstdout ${codec} self-check `.repeat(64));
      const back = this.#spec.decompress(this.#compressWithStream(sample).slice());
      if (back.length !== sample.length || !back.every((b, i) => b === sample[i])) this.#disable();
    } catch {
      this.#disable();
    }
  }

  /** Whether bodies go through the one reused stream (else through the one-shot `node:zlib` call). */
  get isReusingStream(): boolean {
    return this.#handle !== null;
  }

  /** `plain` compressed at level 1, in a buffer of its own and of its exact size. */
  compress(plain: Uint8Array): Uint8Array<ArrayBuffer> {
    const view = this.compressView(plain);
    return this.#handle === null ? view : view.slice();
  }

  /**
   * `plain` compressed at level 1, as a view of the output buffer this compressor keeps: valid until its
   * next call (copy what you keep).
   */
  compressView(plain: Uint8Array): Uint8Array<ArrayBuffer> {
    if (this.#handle === null) return this.#spec.compressOnce(plain);
    try {
      return this.#compressWithStream(plain);
    } catch {
      // A stream in an unknown state is not reused: this body and the ones after take the one-shot call.
      this.#disable();
      return this.#spec.compressOnce(plain);
    }
  }

  #compressWithStream(plain: Uint8Array): Uint8Array<ArrayBuffer> {
    const handle = this.#handle!;
    const state = this.#state;
    const finish = this.#spec.finishFlush;
    handle.reset();
    let inOffset = 0;
    let inLength = plain.length;
    let outOffset = 0;
    for (;;) {
      const room = this.#out.length - outOffset;
      handle.writeSync(finish, plain, inOffset, inLength, this.#out, outOffset, room);
      if (this.#error !== null) throw new Error(`${this.codec} failed: ${this.#error}`);
      // _writeState: [output bytes left, input bytes left] after the call.
      const outLeft = state[0];
      const inLeft = state[1];
      outOffset += room - outLeft;
      inOffset += inLength - inLeft;
      inLength = inLeft;
      // Room left over means the engine wrote the whole stream (the finishing flush ends it when it can).
      if (outLeft !== 0) break;
      const grown = new Uint8Array(this.#out.length * 2);
      grown.set(this.#out.subarray(0, outOffset));
      this.#out = grown;
    }
    const out = this.#out;
    // A buffer grown for one huge body is not kept: the next call starts a normal-sized one.
    if (out.length > KEEP_OUTPUT_MAX_BYTES) this.#out = new Uint8Array(INITIAL_OUTPUT_BYTES);
    return out.subarray(0, outOffset);
  }

  #disable(): void {
    try {
      this.#handle?.close();
    } catch {
      // Already closed or never opened: nothing to free.
    }
    this.#handle = null;
    this.#engine = null;
    this.#out = new Uint8Array(0);
  }
}
