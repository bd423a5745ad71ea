/**
 * Where sealed request bodies wait for their export: packed one after another into a few large buffers
 * (slabs) that are reused, instead of one buffer per body.
 *
 * A body lives from its batch's seal to its final outcome, while the runtime's copy of each request body,
 * response buffers and the like come and go around it. One allocation per body put long-lived blocks
 * between short-lived ones in glibc's heap, which cannot shrink past a live block: a 2M-line ingest peaked
 * at 58-61 MiB of malloc heap, 20-30 MiB of it the queue's bodies (the rest of the story, and what mattered
 * most, is in bench/RESULTS.md, "Memory: the malloc heap"). Slabs are allocated once and reused, so the
 * bodies' memory is a few large blocks that stay put.
 *
 * Bodies are released in about the order they were sealed (the export queue is first in, first out; only
 * the requests in flight settle out of order), so a slab empties soon after the bodies after it were
 * sealed. An empty slab is kept for reuse (at most {@linkcode SlabOptions.keepFree}), or freed at once.
 *
 * @module
 */

/** Options for {@linkcode BodySlabs}. */
export interface SlabOptions {
  /** Bytes per slab; a body larger than a quarter of it gets a buffer of its own. @default 4 MiB */
  slabBytes?: number;
  /** Empty slabs kept for reuse. @default 2 */
  keepFree?: number;
}

interface Slab {
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** Where the next body goes. */
  pos: number;
  /** Bodies in it not yet released. */
  live: number;
}

/** A body's bytes rounded up to this (keeps every body 8-byte aligned in its slab). */
const ALIGN = 8;

/** Packs bodies into reused slabs; see the module doc. Synchronous, single-threaded. */
export class BodySlabs {
  readonly #slabBytes: number;
  readonly #keepFree: number;
  #current: Slab | null = null;
  #free: Slab[] = [];
  #byBuffer = new Map<ArrayBuffer, Slab>();

  constructor(options: SlabOptions = {}) {
    this.#slabBytes = options.slabBytes ?? 4 * 1024 * 1024;
    this.#keepFree = options.keepFree ?? 2;
  }

  /** Slabs held (with bodies in them, or kept free). */
  get slabs(): number {
    return this.#byBuffer.size;
  }

  /**
   * A copy of `bytes` that stays valid until {@linkcode release}: a view of a slab, or a buffer of its own
   * for a body over a quarter of a slab.
   */
  copy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
    const n = bytes.length;
    if (n > this.#slabBytes >>> 2) return bytes.slice() as Uint8Array<ArrayBuffer>;
    let slab = this.#current;
    if (slab === null || slab.pos + n > slab.bytes.length) slab = this.#newCurrent();
    const view = slab.bytes.subarray(slab.pos, slab.pos + n);
    view.set(bytes);
    slab.pos += (n + ALIGN - 1) & ~(ALIGN - 1);
    slab.live++;
    return view;
  }

  /**
   * The body's request has its final outcome: its bytes may be reused. A body from {@linkcode copy} is
   * released once; a buffer of its own is freed at once.
   */
  release(body: Uint8Array<ArrayBuffer>): void {
    const buffer = body.buffer;
    const slab = this.#byBuffer.get(buffer);
    if (slab === undefined) {
      if (body.byteOffset === 0 && body.byteLength === buffer.byteLength && !buffer.detached) {
        buffer.transfer(0);
      }
      return;
    }
    if (--slab.live > 0) return;
    if (slab === this.#current) {
      // Empty and still the one bodies go into: start over at its beginning.
      slab.pos = 0;
      return;
    }
    this.#retire(slab);
  }

  /** A fresh slab to copy into; the previous one is retired as soon as it is empty. */
  #newCurrent(): Slab {
    const previous = this.#current;
    let slab = this.#free.pop();
    if (slab === undefined) {
      slab = { bytes: new Uint8Array(this.#slabBytes), pos: 0, live: 0 };
      this.#byBuffer.set(slab.bytes.buffer, slab);
    }
    this.#current = slab;
    if (previous !== null && previous.live === 0) this.#retire(previous);
    return slab;
  }

  /** An empty slab that is not current: kept for reuse, or freed. */
  #retire(slab: Slab): void {
    slab.pos = 0;
    if (this.#free.length < this.#keepFree) {
      this.#free.push(slab);
      return;
    }
    this.#byBuffer.delete(slab.bytes.buffer);
    slab.bytes.buffer.transfer(0);
  }
}
