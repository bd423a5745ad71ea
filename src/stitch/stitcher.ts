/**
 * Joins the P..P F pieces of one tailed file back into records, per stream, as bytes.
 * Pure: no I/O, time comes in as a parameter. See README.md for the state machine.
 *
 * @module
 */

import type { Stream } from "../record.ts";

/** Why a record left the stitcher without its F piece. */
export type FlushReason = "timeout" | "rotated_eof" | "deleted_eof" | "shutdown" | "truncated_file";

/** A record joined from its pieces. */
export interface StitchedRecord {
  stream: Stream;
  /** The joined body bytes (a copy, never a view into the caller's buffer); may hold invalid UTF-8. */
  body: Uint8Array;
  /** Time of the first piece, seconds since the Unix epoch. */
  timeSec: number;
  /** Time of the first piece, nanoseconds within the second. */
  timeNanos: number;
  /** Byte offset in the file of the first piece's line start. */
  startOffset: number;
  /** Byte offset just past the last consumed line, including its `"\n"`. */
  endOffset: number;
  /** True when the body was cut at `maxLogSizeBytes`. */
  isTruncated: boolean;
  /** True when the record was flushed without its F piece; `flushReason` says why. */
  isUnfinished: boolean;
  /** Set when `isUnfinished`. */
  flushReason?: FlushReason;
  /** Pieces consumed, the F piece and pieces discarded after a cut included. */
  pieceCount: number;
}

/** Options for {@linkcode Stitcher}. */
export interface StitcherOptions {
  /** Cap on a stitched body in bytes; a positive integer. No default: it comes from the config. */
  maxLogSizeBytes: number;
  /**
   * How long a pending record may wait for its next piece once the file is caught up, in
   * milliseconds; see {@linkcode Stitcher.flushExpired}. A non-negative number. No default: it comes
   * from the config.
   */
  partialFlushTimeoutMs: number;
}

/** Where and when a P piece was read. */
export interface PartialPiece {
  /** Byte offset of the piece's line start. */
  startOffset: number;
  /** Byte offset just past the piece's line, including its `"\n"`. */
  endOffset: number;
  /** Time of the piece, seconds since the Unix epoch. */
  timeSec: number;
  /** Time of the piece, nanoseconds within the second. */
  timeNanos: number;
  /** The caller's clock when the piece was read, in milliseconds. */
  nowMs: number;
}

/** Where an F piece ends. */
export interface FinalPiece {
  /** Byte offset just past the piece's line, including its `"\n"`. */
  endOffset: number;
}

/** One stream's unfinished record. */
interface Pending {
  /** Copies of the kept piece bytes, joined once when the record ends. */
  chunks: Uint8Array[];
  keptBytes: number;
  timeSec: number;
  timeNanos: number;
  startOffset: number;
  endOffset: number;
  lastPieceMs: number;
  isTruncated: boolean;
  pieceCount: number;
}

const EMPTY = new Uint8Array(0);

/**
 * Stitches the partial pieces of one tailed file. One instance per file; pending records are keyed
 * by stream because stdout and stderr pieces interleave. Pieces are copied (the caller's buffer is
 * reused) and joined once at the end, so a record of n bytes costs O(n) however many pieces it has.
 *
 * @example
 * ```ts
 * const stitcher = new Stitcher({ maxLogSizeBytes: 1 << 20, partialFlushTimeoutMs: 5000 });
 * const bytes = new TextEncoder().encode("héllo");
 * stitcher.appendPartial("stdout", bytes.subarray(0, 2), { startOffset: 0, endOffset: 40, timeSec: 1, timeNanos: 0, nowMs: 0 });
 * const record = stitcher.complete("stdout", bytes.subarray(2), { endOffset: 81 });
 * // new TextDecoder().decode(record.body) === "héllo" && record.pieceCount === 2
 * ```
 */
export class Stitcher {
  readonly #maxLogSizeBytes: number;
  readonly #partialFlushTimeoutMs: number;
  #stdout: Pending | undefined;
  #stderr: Pending | undefined;

  /** @throws {RangeError} when an option is out of range. */
  constructor(options: StitcherOptions) {
    const { maxLogSizeBytes, partialFlushTimeoutMs } = options;
    if (!Number.isSafeInteger(maxLogSizeBytes) || maxLogSizeBytes < 1) {
      throw new RangeError(
        `Invalid stitcher option: maxLogSizeBytes must be a positive integer, got ${maxLogSizeBytes}`,
      );
    }
    if (!(partialFlushTimeoutMs >= 0)) {
      throw new RangeError(
        `Invalid stitcher option: partialFlushTimeoutMs must be >= 0, got ${partialFlushTimeoutMs}`,
      );
    }
    this.#maxLogSizeBytes = maxLogSizeBytes;
    this.#partialFlushTimeoutMs = partialFlushTimeoutMs;
  }

  /** True when `stream` has an unfinished record pending. */
  hasPending(stream: Stream): boolean {
    return this.#get(stream) !== undefined;
  }

  /**
   * Appends a P piece to the pending record of `stream`, starting one if there is none. `body` is a
   * view into the caller's reusable buffer: the bytes kept are copied.
   */
  appendPartial(stream: Stream, body: Uint8Array, piece: PartialPiece): void {
    let pending = this.#get(stream);
    if (pending === undefined) {
      pending = {
        chunks: [],
        keptBytes: 0,
        timeSec: piece.timeSec,
        timeNanos: piece.timeNanos,
        startOffset: piece.startOffset,
        endOffset: piece.endOffset,
        lastPieceMs: piece.nowMs,
        isTruncated: false,
        pieceCount: 0,
      };
      if (stream === "stdout") this.#stdout = pending;
      else this.#stderr = pending;
    }
    this.#keep(pending, body);
    pending.endOffset = piece.endOffset;
    pending.lastPieceMs = piece.nowMs;
  }

  /**
   * Ends the pending record of `stream` with an F piece and returns it.
   *
   * @throws {Error} when `stream` has no pending record: call only when `hasPending(stream)`.
   */
  complete(stream: Stream, body: Uint8Array, piece: FinalPiece): StitchedRecord {
    const pending = this.#get(stream);
    if (pending === undefined) throw new Error(`Cannot complete a record: no pending record on ${stream}`);
    this.#keep(pending, body);
    pending.endOffset = piece.endOffset;
    return this.#finish(stream, pending, undefined);
  }

  /**
   * Flushes, as unfinished with reason `"timeout"`, the records whose last piece arrived more than
   * `partialFlushTimeoutMs` before `nowMs`. Call it only when the file has been read up to EOF: a
   * record must never be cut while a backlog that may hold its next piece is still unread.
   * Records come out in file order.
   */
  flushExpired(nowMs: number): StitchedRecord[] {
    const out: StitchedRecord[] = [];
    for (const stream of this.#streamsInFileOrder()) {
      const pending = this.#get(stream)!;
      if (nowMs - pending.lastPieceMs > this.#partialFlushTimeoutMs) {
        out.push(this.#finish(stream, pending, "timeout"));
      }
    }
    return out;
  }

  /**
   * The instant after which {@linkcode Stitcher.flushExpired} flushes the oldest pending record, in
   * the caller's clock, or Infinity when nothing is pending. For the caller's timer.
   */
  nextExpiryMs(): number {
    const a = this.#stdout?.lastPieceMs ?? Infinity;
    const b = this.#stderr?.lastPieceMs ?? Infinity;
    return Math.min(a, b) + this.#partialFlushTimeoutMs;
  }

  /** Flushes every pending record as unfinished with `reason`, in file order. */
  flushAll(reason: FlushReason): StitchedRecord[] {
    return this.#streamsInFileOrder().map((stream) => this.#finish(stream, this.#get(stream)!, reason));
  }

  /** Lowest startOffset of any pending record, or Infinity: the file cursor must not pass it. */
  pendingStartOffset(): number {
    return Math.min(this.#stdout?.startOffset ?? Infinity, this.#stderr?.startOffset ?? Infinity);
  }

  /** Bytes held in pending pieces (for the memory ceiling). */
  pendingBytes(): number {
    return (this.#stdout?.keptBytes ?? 0) + (this.#stderr?.keptBytes ?? 0);
  }

  #get(stream: Stream): Pending | undefined {
    return stream === "stdout" ? this.#stdout : this.#stderr;
  }

  #streamsInFileOrder(): Stream[] {
    const streams: Stream[] = [];
    if (this.#stdout !== undefined) streams.push("stdout");
    if (this.#stderr !== undefined) streams.push("stderr");
    if (streams.length === 2 && this.#stderr!.startOffset < this.#stdout!.startOffset) streams.reverse();
    return streams;
  }

  /** Copies what fits under the cap; once a record is cut, the rest of its pieces are only counted. */
  #keep(pending: Pending, body: Uint8Array): void {
    pending.pieceCount += 1;
    if (pending.isTruncated || body.length === 0) return;
    const room = this.#maxLogSizeBytes - pending.keptBytes;
    if (body.length > room) {
      pending.isTruncated = true;
      if (room === 0) return;
      pending.chunks.push(body.slice(0, room));
      pending.keptBytes += room;
      return;
    }
    pending.chunks.push(body.slice());
    pending.keptBytes += body.length;
  }

  #finish(stream: Stream, pending: Pending, reason: FlushReason | undefined): StitchedRecord {
    if (stream === "stdout") this.#stdout = undefined;
    else this.#stderr = undefined;
    let bytes = joinChunks(pending.chunks, pending.keptBytes);
    if (pending.isTruncated) bytes = bytes.subarray(0, utf8BoundaryAtOrBefore(bytes, bytes.length));
    const record: StitchedRecord = {
      stream,
      body: bytes,
      timeSec: pending.timeSec,
      timeNanos: pending.timeNanos,
      startOffset: pending.startOffset,
      endOffset: pending.endOffset,
      isTruncated: pending.isTruncated,
      isUnfinished: reason !== undefined,
      pieceCount: pending.pieceCount,
    };
    if (reason !== undefined) record.flushReason = reason;
    return record;
  }
}

/** `chunks` (holding `totalBytes` in all) as one array; a single chunk is returned as it is. */
export function joinChunks(chunks: readonly Uint8Array[], totalBytes: number): Uint8Array {
  if (chunks.length === 0) return EMPTY;
  if (chunks.length === 1) return chunks[0];
  const joined = new Uint8Array(totalBytes);
  let at = 0;
  for (const chunk of chunks) {
    joined.set(chunk, at);
    at += chunk.length;
  }
  return joined;
}

/**
 * The largest index <= `end` that does not split a UTF-8 sequence whose lead byte is within the last
 * three bytes. Bytes that are invalid anyway are left for the decoder to replace.
 */
export function utf8BoundaryAtOrBefore(bytes: Uint8Array, end: number): number {
  const lowest = Math.max(0, end - 3);
  for (let i = end - 1; i >= lowest; i--) {
    const b = bytes[i];
    if (b < 0x80) return end; // ASCII: nothing after it can be a cut sequence
    if (b < 0xc0) continue; // continuation byte: keep looking for the lead
    const sequenceBytes = b >= 0xf8 ? 0 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    return sequenceBytes > end - i ? i : end;
  }
  return end;
}
