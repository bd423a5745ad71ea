/**
 * The expected-record model: per (file, stream) the sequence of records the agent must deliver, kept as
 * compact typed arrays (time, body hash, times seen) so that millions of records cost a few bytes each and
 * no received record is ever stored.
 *
 * A record is identified by its file, its stream and its time (the CRI timestamp of its first piece).
 * Writers give every CRI line of a file a strictly increasing timestamp, so that key is unique.
 *
 * @module
 */

import type { Stream } from "../../src/record.ts";
import { formatCriTime } from "./cri_encoder.ts";
import type { GeneratedFile } from "./generator.ts";

/** Nanoseconds since {@linkcode ExpectedModel.baseEpochSec}; exact as a float up to 104 days. */
export type TimeNs = number;

/** What one received record turned out to be. */
export type MatchOutcome = "matched" | "duplicate" | "unknown_time" | "content_mismatch";

/** The result of {@linkcode ExpectedModel.match}. */
export interface MatchResult {
  readonly outcome: MatchOutcome;
  /** A first receipt that came after a later record of the same stream. */
  readonly isOutOfOrder: boolean;
  /** Index of the record in its stream, or -1 when `unknown_time`. */
  readonly index: number;
  /** When (the receiver's epoch ms) the record was first received; NaN unless matched or duplicate. */
  readonly firstReceivedAtMs: number;
}

/** A record that was never received, for the report. */
export interface LostRecord {
  readonly fileIndex: number;
  readonly relPath: string;
  readonly stream: Stream;
  readonly index: number;
  readonly timeNs: TimeNs;
  /** The record's first CRI timestamp as written in the file (to grep for it). */
  readonly criTime: string;
}

/** FNV-1a over the UTF-16 code units of `body`, mixed with its length. */
export function hashBody(body: string): number {
  let h = 0x811c9dc5 ^ body.length;
  for (let i = 0; i < body.length; i++) {
    h ^= body.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The text a body is compared by. The agent splits JSON object bodies into maps by default
 * (`json.mode: body`, issue 10): `level` becomes the record's severity and numbers lose their spelling
 * (`2.3000` arrives as 2.3). So a JSON object body is compared as its parsed object without `level`,
 * re-serialized; every other body as it is. The receiver applies the same to what it decodes.
 */
export function canonicalBody(body: string): string {
  if (body.charCodeAt(0) !== 0x7b) return body;
  try {
    const parsed = JSON.parse(body);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return body;
    delete parsed.level;
    return JSON.stringify(parsed);
  } catch {
    return body;
  }
}

const ROTATED_SUFFIX_RE = /\.log\.\d{8}-\d{6}(?:\.\d+)?(?:\.gz)?$/;

class ExpectedStream {
  times = new Float64Array(1024);
  hashes = new Uint32Array(1024);
  seen = new Uint8Array(1024);
  /** The receiver's epoch ms of each record's first receipt. */
  firstReceivedAtMs = new Float64Array(1024);
  length = 0;
  matched = 0;
  /** Highest index received so far (first receipts only). */
  highest = -1;

  add(timeNs: TimeNs, hash: number): void {
    if (this.length > 0 && timeNs <= this.times[this.length - 1]) {
      throw new Error(
        `Expected times must increase per stream: ${timeNs} after ${this.times[this.length - 1]}`,
      );
    }
    if (this.length === this.times.length) this.#grow();
    this.times[this.length] = timeNs;
    this.hashes[this.length] = hash;
    this.length++;
  }

  indexOf(timeNs: TimeNs): number {
    let lo = 0;
    let hi = this.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const t = this.times[mid];
      if (t === timeNs) return mid;
      if (t < timeNs) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  #grow(): void {
    const size = this.times.length * 2;
    const times = new Float64Array(size);
    times.set(this.times);
    const hashes = new Uint32Array(size);
    hashes.set(this.hashes);
    const seen = new Uint8Array(size);
    seen.set(this.seen);
    const firstReceivedAtMs = new Float64Array(size);
    firstReceivedAtMs.set(this.firstReceivedAtMs);
    this.times = times;
    this.hashes = hashes;
    this.seen = seen;
    this.firstReceivedAtMs = firstReceivedAtMs;
  }
}

/** Every record the agent must deliver, and what has been received of them so far. */
export class ExpectedModel {
  /** The files of the tree, by index. */
  readonly files: readonly GeneratedFile[];
  /** Whole seconds since the Unix epoch that record times are relative to. */
  readonly baseEpochSec: number;
  #streams: ExpectedStream[];
  #byPath = new Map<string, number>();
  #byFullPath = new Map<string, number>();
  #expected = 0;
  #matched = 0;

  constructor(files: readonly GeneratedFile[], baseEpochSec: number) {
    this.files = files;
    this.baseEpochSec = baseEpochSec;
    this.#streams = [];
    for (const file of files) {
      this.#streams.push(new ExpectedStream(), new ExpectedStream());
      this.#byPath.set(file.relPath, file.index);
    }
  }

  /** Number of records added. */
  get expectedCount(): number {
    return this.#expected;
  }

  /** Number of distinct expected records received at least once. */
  get matchedCount(): number {
    return this.#matched;
  }

  /** Adds the next record of (file, stream); `timeNs` must be later than that stream's previous one. */
  add(fileIndex: number, stream: Stream, timeNs: TimeNs, body: string): void {
    this.#stream(fileIndex, stream).add(timeNs, hashBody(canonicalBody(body)));
    this.#expected++;
  }

  /** Number of records expected on one (file, stream). */
  countOf(fileIndex: number, stream: Stream): number {
    return this.#stream(fileIndex, stream).length;
  }

  /**
   * The file a `log.file.path` names, or -1. Only the last three path components count, and a rotated
   * name (`0.log.20240501-120000`, optionally `.gz`) names the same logical file as `0.log`.
   */
  fileIndexOfPath(path: string): number {
    const cached = this.#byFullPath.get(path);
    if (cached !== undefined) return cached;
    const parts = path.split("/");
    if (parts.length < 3) return -1;
    const name = parts[parts.length - 1].replace(ROTATED_SUFFIX_RE, ".log");
    const index = this.#byPath.get(`${parts[parts.length - 3]}/${parts[parts.length - 2]}/${name}`) ?? -1;
    // The agent sends few distinct paths (files and their rotated names): remember them, within bounds.
    if (this.#byFullPath.size < 100_000) this.#byFullPath.set(path, index);
    return index;
  }

  /** The file named by resource attribute values, or -1. */
  fileIndexOfResource(
    namespace: string,
    podName: string,
    podUid: string,
    containerName: string,
    restartCount: number,
  ): number {
    return this.#byPath.get(`${namespace}_${podName}_${podUid}/${containerName}/${restartCount}.log`) ?? -1;
  }

  /** Records one received record against the model; `receivedAtMs` is the receiver's epoch ms. */
  match(fileIndex: number, stream: Stream, timeNs: TimeNs, body: string, receivedAtMs = 0): MatchResult {
    const s = this.#stream(fileIndex, stream);
    const index = s.indexOf(timeNs);
    if (index < 0) return { outcome: "unknown_time", isOutOfOrder: false, index, firstReceivedAtMs: NaN };
    if (s.hashes[index] !== hashBody(canonicalBody(body))) {
      return { outcome: "content_mismatch", isOutOfOrder: false, index, firstReceivedAtMs: NaN };
    }
    if (s.seen[index] > 0) {
      if (s.seen[index] < 255) s.seen[index]++;
      return {
        outcome: "duplicate",
        isOutOfOrder: false,
        index,
        firstReceivedAtMs: s.firstReceivedAtMs[index],
      };
    }
    s.seen[index] = 1;
    s.firstReceivedAtMs[index] = receivedAtMs;
    s.matched++;
    this.#matched++;
    const isOutOfOrder = index < s.highest;
    if (index > s.highest) s.highest = index;
    return { outcome: "matched", isOutOfOrder, index, firstReceivedAtMs: receivedAtMs };
  }

  /** Records first received at or after `fromMs` and before `toMs` (the receiver's epoch ms). */
  firstReceivedBetween(fromMs: number, toMs: number): number {
    let n = 0;
    for (const s of this.#streams) {
      for (let i = 0; i < s.length; i++) {
        if (s.seen[i] === 0) continue;
        const at = s.firstReceivedAtMs[i];
        if (at >= fromMs && at < toMs) n++;
      }
    }
    return n;
  }

  /** The time of a record (for latency), given its index from {@linkcode match}. */
  timeOf(fileIndex: number, stream: Stream, index: number): TimeNs {
    return this.#stream(fileIndex, stream).times[index];
  }

  /** Every record never received, in file and stream order. */
  *lostRecords(): Generator<LostRecord> {
    for (const file of this.files) {
      for (const stream of ["stdout", "stderr"] as const) {
        const s = this.#stream(file.index, stream);
        for (let i = 0; i < s.length; i++) {
          if (s.seen[i] !== 0) continue;
          const sec = Math.floor(s.times[i] / 1e9);
          const criTime = formatCriTime(this.baseEpochSec + sec, s.times[i] - sec * 1e9);
          yield {
            fileIndex: file.index,
            relPath: file.relPath,
            stream,
            index: i,
            timeNs: s.times[i],
            criTime,
          };
        }
      }
    }
  }

  /** Records never received: their count and the first `limit` of them. */
  lost(limit = 10): { count: number; examples: LostRecord[] } {
    const examples: LostRecord[] = [];
    for (const record of this.lostRecords()) {
      if (examples.length >= limit) break;
      examples.push(record);
    }
    return { count: this.#expected - this.#matched, examples };
  }

  #stream(fileIndex: number, stream: Stream): ExpectedStream {
    const s = this.#streams[fileIndex * 2 + (stream === "stdout" ? 0 : 1)];
    if (s === undefined) throw new Error(`Unknown file index: ${fileIndex}`);
    return s;
  }
}
