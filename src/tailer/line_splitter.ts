/**
 * Bytes of one file -> whole lines with byte offsets. Keeps the unfinished tail (the carry) between
 * reads, and turns a line longer than the read buffer into one line (issue 8 defect 2): its first
 * `maxLineHeadBytes` are kept, the rest is only counted, so a file holds at most that plus one buffer.
 * Pure: no I/O, no clock.
 *
 * @module
 */

import { joinChunks } from "../stitch/mod.ts";

/** Receives the lines a {@linkcode LineSplitter} finds. */
export interface LineSink {
  /** Whole lines `buf[start, end)` (`buf[end - 1]` is `"\n"`); `buf[start]` is at file offset `baseOffset`. */
  lines(buf: Uint8Array, start: number, end: number, baseOffset: number): void;
  /**
   * One line that did not fit the buffer (or a last line without "\\n"): `head` holds its first bytes, `lineBytes` its length without
   * `"\n"`, from `startOffset` to `endOffset` (past its `"\n"`, or its end for a last line without one).
   */
  longLine(head: Uint8Array, lineBytes: number, startOffset: number, endOffset: number): void;
}

/** Options for {@linkcode LineSplitter}. */
export interface LineSplitterOptions {
  /** Bytes kept of a line longer than the buffer (max_log_size plus a CRI header). */
  maxLineHeadBytes: number;
  /** File offset of the first byte the splitter will see. */
  offset: number;
}

/** The line state of one file between reads. */
export class LineSplitter {
  /** Offset of the first byte not yet turned into lines (the start of the carry or of the long line). */
  consumedOffset: number;
  readonly #maxLineHeadBytes: number;
  #carry: Uint8Array | null = null;
  #head: Uint8Array[] = [];
  #headBytes = 0;
  #longLineBytes = 0;

  constructor(options: LineSplitterOptions) {
    this.#maxLineHeadBytes = options.maxLineHeadBytes;
    this.consumedOffset = options.offset;
  }

  /** Bytes held between reads (carry and long-line head). */
  heldBytes(): number {
    return (this.#carry?.length ?? 0) + this.#headBytes;
  }

  /** Bytes of the unfinished tail (carry, or the long line seen so far). */
  pendingBytes(): number {
    return (this.#carry?.length ?? 0) + this.#longLineBytes;
  }

  /** True when nothing is held between lines. */
  isEmpty(): boolean {
    return this.#carry === null && this.#longLineBytes === 0;
  }

  /** Copies the carry to the start of `buf` (the read goes after it); returns its length. */
  prefill(buf: Uint8Array): number {
    if (this.#carry === null) return 0;
    buf.set(this.#carry, 0);
    return this.#carry.length;
  }

  /**
   * Splits `buf[0, total)` (the prefilled carry, then new bytes). Returns true when a long line started
   * in this chunk (a whole buffer without `"\n"`).
   */
  push(buf: Uint8Array, total: number, sink: LineSink): boolean {
    let start = 0;
    if (this.#longLineBytes > 0) {
      const nl = buf.indexOf(10, 0);
      const end = nl < 0 || nl >= total ? total : nl;
      this.#keep(buf.subarray(0, end));
      if (end === total) {
        this.#carry = null;
        return false;
      }
      this.#finishLong(this.consumedOffset + this.#longLineBytes + 1, sink);
      start = nl + 1;
    }
    const lastNewline = total > start ? buf.lastIndexOf(10, total - 1) : -1;
    if (lastNewline >= start) {
      sink.lines(buf, start, lastNewline + 1, this.consumedOffset);
      this.consumedOffset += lastNewline + 1 - start;
      start = lastNewline + 1;
    }
    if (start === 0 && total === buf.length) {
      this.#keep(buf.subarray(0, total));
      this.#carry = null;
      return true;
    }
    this.#carry = total > start ? buf.slice(start, total) : null;
    return false;
  }

  /** End of the file (rotated or deleted, drained): hands over a long line and a last line without "\n". */
  finish(sink: LineSink): void {
    if (this.#longLineBytes > 0) this.#finishLong(this.consumedOffset + this.#longLineBytes, sink);
    if (this.#carry === null) return;
    const carry = this.#carry;
    this.#carry = null;
    // Handed over as one line without its "\n", so its end offset is the file's end, not one past it.
    sink.longLine(carry, carry.length, this.consumedOffset, this.consumedOffset + carry.length);
    this.consumedOffset += carry.length;
  }

  /** Drops everything held and starts again at `offset` (truncation, or bytes given up as lost). */
  reset(offset: number): void {
    this.#carry = null;
    this.#head = [];
    this.#headBytes = 0;
    this.#longLineBytes = 0;
    this.consumedOffset = offset;
  }

  #keep(bytes: Uint8Array): void {
    const room = this.#maxLineHeadBytes - this.#headBytes;
    if (room > 0 && bytes.length > 0) {
      const kept = bytes.length > room ? bytes.slice(0, room) : bytes.slice();
      this.#head.push(kept);
      this.#headBytes += kept.length;
    }
    this.#longLineBytes += bytes.length;
  }

  #finishLong(endOffset: number, sink: LineSink): void {
    const head = joinChunks(this.#head, this.#headBytes);
    sink.longLine(head, this.#longLineBytes, this.consumedOffset, endOffset);
    this.consumedOffset = endOffset;
    this.#head = [];
    this.#headBytes = 0;
    this.#longLineBytes = 0;
  }
}
