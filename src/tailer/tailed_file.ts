/**
 * One reader per file identity: its descriptor, offsets, unfinished-line carry and stitcher, plus the
 * turning of one chunk of bytes into records. The scheduling (which file reads next, rotation, cursor
 * commits) lives in tailer.ts.
 *
 * @module
 */

import { parseCriLine } from "../cri/mod.ts";
import { type StitchedRecord, type Stitcher, utf8BoundaryAtOrBefore } from "../stitch/mod.ts";
import type {
  Attributes,
  InstrumentationScope,
  LogRecord,
  PodLogPath,
  ResourceRef,
  Stream,
} from "../record.ts";
import type { Fingerprint } from "./file_identity.ts";

/** Where a file is in its life. */
export type TailedFileState = "waiting" | "active" | "closed";

/** Receives the records a file produces. */
export interface RecordSink {
  /** One record whose first byte is at `startOffset` of `file`; `bytes` is its size estimate. */
  push(record: LogRecord, file: TailedFile, startOffset: number, bytes: number): void;
}

/** What the line processor needs besides the file itself. */
export interface ChunkContext {
  sink: RecordSink;
  resource: ResourceRef;
  scope: InstrumentationScope;
  /** Adds per-record attribution (rank, job) to a record's attributes. */
  attribute: (path: PodLogPath, body: string, attributes: Attributes) => void;
  maxLogSizeBytes: number;
  /** Whether records carry `log.file.path`. */
  includeFilePath: boolean;
  nowMs: number;
  /** `nowMs` as an HrTime, shared by every record of the chunk (the serializer only reads it). */
  observedHr: [number, number];
  /** Counters updated per chunk. */
  counts: ChunkCounts;
}

/** Counters a chunk adds to; flushed into metrics by the caller. */
export interface ChunkCounts {
  lines: number;
  records: number;
  truncated: number;
  malformed: Map<string, number>;
  partialFlushes: Map<string, number>;
}

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** The state of one tailed file identity. */
export class TailedFile {
  readonly key: string;
  readonly dev: number;
  readonly ino: number;
  /** The path the file was found at (kept after rotation: it names the container's log). */
  readonly originalPath: string;
  /** Where the file is now, as far as we know (the rotated name after a rename). */
  currentPath: string;
  readonly podPath: PodLogPath | null;
  readonly stitcher: Stitcher;
  file: Deno.FsFile | null = null;
  state: TailedFileState = "waiting";
  fingerprint: Fingerprint = { length: 0, hash: "" };
  /** Offset of the first byte not yet turned into lines (the start of `carry`). */
  consumedOffset: number;
  /** Offset of the next byte to read (`consumedOffset + carry.length`). */
  readPosition: number;
  carry: Uint8Array | null = null;
  lastSizeBytes: number;
  wantsRead = true;
  /** A watch event named this file: at EOF, stat it to catch an in-place truncation. */
  needsStat = false;
  isAtEof = false;
  isRotated = false;
  rotatedAtMs = 0;
  lastDataMs = 0;
  /** When a rotated file's size was last polled. */
  lastPollMs = 0;
  /** The last cursor value written, to skip unchanged commits. */
  committedOffset = -1;
  committedFingerprintLength = -1;
  /** Guard hash of the last committed offset (kept for files already closed). */
  committedGuardHash = "";

  constructor(init: {
    dev: number;
    ino: number;
    path: string;
    podPath: PodLogPath | null;
    offset: number;
    sizeBytes: number;
    stitcher: Stitcher;
  }) {
    this.dev = init.dev;
    this.ino = init.ino;
    this.key = `${init.dev}:${init.ino}`;
    this.originalPath = init.path;
    this.currentPath = init.path;
    this.podPath = init.podPath;
    this.consumedOffset = init.offset;
    this.readPosition = init.offset;
    this.lastSizeBytes = init.sizeBytes;
    this.stitcher = init.stitcher;
  }

  /** Bytes known to be in the file and not yet read. */
  unreadBytes(): number {
    return Math.max(0, this.lastSizeBytes - this.readPosition);
  }

  /** The lowest offset this file still needs, ignoring exports (carry and pending pieces). */
  localFrontier(): number {
    return Math.min(this.consumedOffset, this.stitcher.pendingStartOffset());
  }

  /**
   * Turns `buf[0, end)` (whole lines, the last ending in "\n") into records; `buf[0]` is at
   * `consumedOffset` in the file. Decodes the chunk once; byte offsets come from the bytes, so
   * multibyte text never shifts them.
   */
  processLines(buf: Uint8Array, end: number, ctx: ChunkContext): void {
    const text = decoder.decode(buf.subarray(0, end));
    const base = this.consumedOffset;
    let c = 0;
    let b = 0;
    let lines = 0;
    while (c < text.length) {
      const nc = text.indexOf("\n", c);
      const nb = buf.indexOf(10, b);
      this.#handleLine(text.slice(c, nc), buf, b, nb, base, ctx);
      lines++;
      c = nc + 1;
      b = nb + 1;
    }
    ctx.counts.lines += lines;
    this.consumedOffset = base + end;
  }

  /** Emits `bytes` (no newline found within a whole buffer) as one raw record, marked as such. */
  processOverlongLine(bytes: Uint8Array, ctx: ChunkContext): void {
    const start = this.consumedOffset;
    const body = decodeCapped(bytes, ctx.maxLogSizeBytes);
    this.#emit(ctx, undefined, body, ctx.observedHr, start, { "log.parse_error": "line_too_long" });
    ctx.counts.lines++;
    this.consumedOffset += bytes.length;
  }

  /** Flushes unfinished records (and a final line without its newline) for `reason`. */
  flushPending(
    reason: "rotated_eof" | "deleted_eof" | "shutdown" | "truncated_file",
    ctx: ChunkContext,
  ): void {
    for (const rec of this.stitcher.flushAll(reason)) this.#emitStitched(rec, ctx);
    if (reason !== "shutdown" && reason !== "truncated_file" && this.carry !== null) {
      // A last line the writer never ended with "\n": ship it rather than lose it.
      const carry = this.carry;
      this.carry = null;
      const withNewline = new Uint8Array(carry.length + 1);
      withNewline.set(carry);
      withNewline[carry.length] = 10;
      this.processLines(withNewline, withNewline.length, ctx);
      this.consumedOffset -= 1; // the "\n" added above is not in the file
    }
  }

  /** Flushes records whose pieces timed out; only call when the file was read up to EOF. */
  flushExpired(ctx: ChunkContext): void {
    for (const rec of this.stitcher.flushExpired(ctx.nowMs)) this.#emitStitched(rec, ctx);
  }

  #handleLine(line: string, buf: Uint8Array, b: number, nb: number, base: number, ctx: ChunkContext): void {
    const r = parseCriLine(line);
    const lineStart = base + b;
    if (!r.ok) {
      const m = ctx.counts.malformed;
      m.set(r.reason, (m.get(r.reason) ?? 0) + 1);
      if (line.length === 0) return;
      const body = line.length > ctx.maxLogSizeBytes
        ? decodeCapped(buf.subarray(b, nb), ctx.maxLogSizeBytes)
        : line;
      this.#emit(ctx, undefined, body, ctx.observedHr, lineStart, { "log.parse_error": r.reason });
      return;
    }
    if (r.isPartial) {
      this.stitcher.appendPartial(r.stream, buf.subarray(b + r.bodyStart, nb), {
        startOffset: lineStart,
        endOffset: base + nb + 1,
        timeSec: r.timeSec,
        timeNanos: r.timeNanos,
        nowMs: ctx.nowMs,
      });
      return;
    }
    if (this.stitcher.hasPending(r.stream)) {
      const rec = this.stitcher.complete(r.stream, buf.subarray(b + r.bodyStart, nb), {
        endOffset: base + nb + 1,
      });
      this.#emitStitched(rec, ctx);
      return;
    }
    const bodyBytes = nb - b - r.bodyStart;
    if (bodyBytes > ctx.maxLogSizeBytes) {
      ctx.counts.truncated++;
      const body = decodeCapped(buf.subarray(b + r.bodyStart, nb), ctx.maxLogSizeBytes);
      this.#emit(ctx, r.stream, body, [r.timeSec, r.timeNanos], lineStart, { "log.truncated": true });
      return;
    }
    this.#emit(ctx, r.stream, line.slice(r.bodyStart), [r.timeSec, r.timeNanos], lineStart, undefined);
  }

  #emitStitched(rec: StitchedRecord, ctx: ChunkContext): void {
    let extra: Attributes | undefined;
    if (rec.isTruncated) {
      ctx.counts.truncated++;
      extra = { "log.truncated": true };
    }
    if (rec.isUnfinished && rec.flushReason !== undefined) {
      const p = ctx.counts.partialFlushes;
      p.set(rec.flushReason, (p.get(rec.flushReason) ?? 0) + 1);
      extra = { ...extra, "log.partial_flush": rec.flushReason };
    }
    this.#emit(ctx, rec.stream, rec.body, [rec.timeSec, rec.timeNanos], rec.startOffset, extra);
  }

  #emit(
    ctx: ChunkContext,
    stream: Stream | undefined,
    body: string,
    hrTime: [number, number],
    startOffset: number,
    extra: Attributes | undefined,
  ): void {
    const attributes: Attributes = stream === undefined ? {} : { "log.iostream": stream };
    if (ctx.includeFilePath) attributes["log.file.path"] = this.originalPath;
    if (extra !== undefined) Object.assign(attributes, extra);
    if (this.podPath !== null) ctx.attribute(this.podPath, body, attributes);
    const record: LogRecord = {
      hrTime,
      hrTimeObserved: ctx.observedHr,
      body,
      attributes,
      droppedAttributesCount: 0,
      resource: ctx.resource,
      instrumentationScope: ctx.scope,
    };
    ctx.counts.records++;
    ctx.sink.push(record, this, startOffset, body.length + 96);
  }
}

/** Milliseconds since the epoch as an OTLP HrTime. */
export function msToHr(ms: number): [number, number] {
  const sec = Math.floor(ms / 1000);
  return [sec, Math.round((ms - sec * 1000) * 1e6)];
}

/** Decodes at most `maxBytes` of `bytes`, cut back to a UTF-8 character boundary. */
export function decodeCapped(bytes: Uint8Array, maxBytes: number): string {
  if (bytes.length <= maxBytes) return decoder.decode(bytes);
  return decoder.decode(bytes.subarray(0, utf8BoundaryAtOrBefore(bytes, maxBytes)));
}
