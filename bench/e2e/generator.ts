/**
 * A deterministic kubelet log tree: pods, containers and CRI lines drawn from a seeded generator, so the
 * same seed gives the same bytes and the bench knows every record the agent must deliver.
 *
 * Each file has its own random stream (seeded from the tree seed and the file index), so files can be
 * generated in any order, and a live writer draws the same bodies as a backlog writer.
 *
 * @module
 */

import type { Stream } from "../../src/record.ts";

/** One band of the body-length mix: records fall in `[minBytes, maxBytes]` with relative `weight`. */
export interface LengthBand {
  readonly weight: number;
  readonly minBytes: number;
  readonly maxBytes: number;
}

/** The default body-length mix: with the 36-40 B CRI header, about 170 B per CRI line on average. */
export const DEFAULT_LENGTH_MIX: readonly LengthBand[] = [
  { weight: 55, minBytes: 25, maxBytes: 80 },
  { weight: 30, minBytes: 80, maxBytes: 170 },
  { weight: 12, minBytes: 170, maxBytes: 400 },
  { weight: 3, minBytes: 400, maxBytes: 1000 },
];

/** Options for the generated tree and the records of each file. */
export interface GeneratorOptions {
  /** Seed of everything: names, UIDs, bodies, piece cuts. @default 1 */
  seed?: number;
  /** Number of pod directories. @default 40 */
  pods?: number;
  /** Containers per pod; files = pods x containersPerPod. @default 2 */
  containersPerPod?: number;
  /** Body-length mix of one CRI line. @default DEFAULT_LENGTH_MIX */
  lengthMix?: readonly LengthBand[];
  /** Share of CRI lines that are pieces of P..F runs. @default 0.05 */
  partialLineShare?: number;
  /** Share of records whose body is a JSON object. @default 0.3 */
  jsonShare?: number;
  /** Share of records holding multibyte UTF-8 text. @default 0.1 */
  multibyteShare?: number;
  /** Share of records written to stderr. @default 0.2 */
  stderrShare?: number;
  /** Share of records with an empty body (an application printing a blank line). @default 0.002 */
  emptyShare?: number;
  /** Restart counts (`<N>.log`) are drawn from `0..maxRestartCount`. @default 2 */
  maxRestartCount?: number;
}

/** One container log file of the tree. */
export interface GeneratedFile {
  readonly index: number;
  readonly namespace: string;
  readonly podName: string;
  readonly podUid: string;
  readonly containerName: string;
  readonly restartCount: number;
  /** `<ns>_<pod>_<uid>/<container>`: the container directory under the root. */
  readonly containerDir: string;
  /** `<containerDir>/<restartCount>.log`. */
  readonly relPath: string;
}

/** One record as the agent must deliver it. */
export interface GeneratedRecord {
  readonly stream: Stream;
  readonly body: string;
}

/** One CRI line of a record: a slice of the record's UTF-8 bytes. */
export interface GeneratedPiece {
  /** Index into {@linkcode Emission.records}. */
  readonly record: number;
  readonly isPartial: boolean;
  readonly bytes: Uint8Array;
}

/** A group of records and their CRI lines in file order (pieces of two streams may interleave). */
export interface Emission {
  readonly records: GeneratedRecord[];
  readonly pieces: GeneratedPiece[];
}

const NAMESPACES = ["ml-train", "inference", "data-prep", "kube-system", "monitoring", "default"];
const APPS = ["trainer", "worker", "ps", "loader", "eval", "gateway", "indexer", "exporter"];
const CONTAINERS = ["main", "sidecar", "log-shipper", "init-weights", "proxy"];
const WORDS = (
  "step loss lr grad norm epoch batch tokens throughput checkpoint saved shard rank world allreduce " +
  "barrier nccl cuda device memory alloc freed cache hit miss request latency ms ok retry timeout " +
  "connection reset upstream queue depth worker started stopped reading writing file offset bytes"
).split(" ");
const MULTIBYTE = [
  "données",
  "réseau",
  "Größe",
  "日本語",
  "学習率",
  "損失",
  "Привет",
  "обучение",
  "🚀",
  "✅",
  "🔥",
  "𝛼=0.5",
  "naïve",
  "الخسارة",
  "中文日志",
];
const WORD_BYTES = new Map<string, number>(
  [...WORDS, ...MULTIBYTE].map((word) => [word, new TextEncoder().encode(word).length]),
);
const LEVELS = ["info", "info", "info", "debug", "warning", "error"];
const ENCODER = new TextEncoder();

/** A small fast seeded PRNG (sfc32 seeded through splitmix32). */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** A uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
}

/** Mixes two integers into a seed (used to derive per-file seeds). */
export function mixSeed(a: number, b: number): number {
  let h = Math.imul((a >>> 0) ^ 0x27d4eb2d, 0x165667b1) ^ Math.imul((b >>> 0) + 0x9e3779b9, 0x85ebca77);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return (h ^ (h >>> 13)) >>> 0;
}

function hex(prng: Prng, digits: number): string {
  let out = "";
  while (out.length < digits) out += prng.nextUint32().toString(16).padStart(8, "0");
  return out.slice(0, digits);
}

/** Plans the pod directories and container files of a tree. Pure: the same options give the same plan. */
export function planTree(options: GeneratorOptions = {}): GeneratedFile[] {
  const prng = new Prng(mixSeed(options.seed ?? 1, 0x7ee));
  const pods = options.pods ?? 40;
  const containersPerPod = options.containersPerPod ?? 2;
  const maxRestartCount = options.maxRestartCount ?? 2;
  const files: GeneratedFile[] = [];
  for (let p = 0; p < pods; p++) {
    const namespace = prng.pick(NAMESPACES);
    const podName = `${prng.pick(APPS)}-${hex(prng, 5)}-${p}`;
    const u = hex(prng, 32);
    const podUid = `${u.slice(0, 8)}-${u.slice(8, 12)}-4${u.slice(13, 16)}-a${u.slice(17, 20)}-${
      u.slice(20)
    }`;
    for (let c = 0; c < containersPerPod; c++) {
      const containerName = c < CONTAINERS.length ? CONTAINERS[c] : `c${c}`;
      const restartCount = prng.int(0, maxRestartCount);
      const containerDir = `${namespace}_${podName}_${podUid}/${containerName}`;
      files.push({
        index: files.length,
        namespace,
        podName,
        podUid,
        containerName,
        restartCount,
        containerDir,
        relPath: `${containerDir}/${restartCount}.log`,
      });
    }
  }
  return files;
}

/** The deterministic record stream of one file. */
export class RecordSource {
  #prng: Prng;
  #mix: readonly LengthBand[];
  #mixTotal: number;
  #partialRecordShare: number;
  #jsonShare: number;
  #multibyteShare: number;
  #stderrShare: number;
  #emptyShare: number;
  #serial = 0;

  constructor(fileIndex: number, options: GeneratorOptions = {}) {
    this.#prng = new Prng(mixSeed(options.seed ?? 1, fileIndex + 1));
    this.#mix = options.lengthMix ?? DEFAULT_LENGTH_MIX;
    this.#mixTotal = this.#mix.reduce((sum, band) => sum + band.weight, 0);
    // A split record has 2..4 pieces (3 on average): solve lines share s = 3p / (3p + 1 - p) for p.
    const s = options.partialLineShare ?? 0.05;
    this.#partialRecordShare = s / (3 - 2 * s);
    this.#jsonShare = options.jsonShare ?? 0.3;
    this.#multibyteShare = options.multibyteShare ?? 0.1;
    this.#stderrShare = options.stderrShare ?? 0.2;
    this.#emptyShare = options.emptyShare ?? 0.002;
  }

  /** The next group of records: one full line, or a P..F run possibly interleaved with the other stream. */
  next(): Emission {
    const prng = this.#prng;
    const stream: Stream = prng.next() < this.#stderrShare ? "stderr" : "stdout";
    if (prng.next() >= this.#partialRecordShare) {
      const body = this.#body(this.#targetBytes());
      return {
        records: [{ stream, body }],
        pieces: [{ record: 0, isPartial: false, bytes: ENCODER.encode(body) }],
      };
    }
    const pieceCount = prng.int(2, 4);
    let target = 0;
    for (let i = 0; i < pieceCount; i++) target += this.#targetBytes();
    const body = this.#body(Math.max(target, pieceCount * 4), false);
    const bytes = ENCODER.encode(body);
    const cuts = this.#cuts(bytes, pieceCount);
    const records: GeneratedRecord[] = [{ stream, body }];
    const pieces: GeneratedPiece[] = [];
    for (let i = 0; i < cuts.length - 1; i++) {
      const isLast = i === cuts.length - 2;
      pieces.push({ record: 0, isPartial: !isLast, bytes: bytes.subarray(cuts[i], cuts[i + 1]) });
      // Runtimes interleave stdout and stderr pieces; stitching must be keyed by stream.
      if (!isLast && prng.next() < 0.3) {
        const other: Stream = stream === "stdout" ? "stderr" : "stdout";
        const otherBody = this.#body(this.#targetBytes());
        records.push({ stream: other, body: otherBody });
        pieces.push({ record: records.length - 1, isPartial: false, bytes: ENCODER.encode(otherBody) });
      }
    }
    return { records, pieces };
  }

  #targetBytes(): number {
    let r = this.#prng.next() * this.#mixTotal;
    for (const band of this.#mix) {
      r -= band.weight;
      if (r < 0) return this.#prng.int(band.minBytes, band.maxBytes);
    }
    const last = this.#mix[this.#mix.length - 1];
    return last.maxBytes;
  }

  /** Strictly increasing cut offsets `[0, ..., length]`, biased to split a multibyte character. */
  #cuts(bytes: Uint8Array, pieceCount: number): number[] {
    const set = new Set<number>();
    const continuation: number[] = [];
    for (let i = 1; i < bytes.length; i++) if ((bytes[i] & 0xc0) === 0x80) continuation.push(i);
    while (set.size < pieceCount - 1) {
      const useMultibyte = continuation.length > 0 && this.#prng.next() < 0.5;
      const cut = useMultibyte ? this.#prng.pick(continuation) : this.#prng.int(1, bytes.length - 1);
      set.add(cut);
    }
    return [0, ...[...set].sort((a, b) => a - b), bytes.length];
  }

  #body(targetBytes: number, mayBeEmpty = true): string {
    const prng = this.#prng;
    this.#serial++;
    if (prng.next() < this.#emptyShare && mayBeEmpty) return "";
    const multibyte = prng.next() < this.#multibyteShare;
    if (prng.next() < this.#jsonShare) return this.#jsonBody(targetBytes, multibyte);
    const head = prng.next() < 0.5
      ? `I${String(prng.int(1, 12)).padStart(2, "0")}${String(prng.int(1, 28)).padStart(2, "0")} ` +
        `${String(prng.int(0, 23)).padStart(2, "0")}:${String(prng.int(0, 59)).padStart(2, "0")}:` +
        `${String(prng.int(0, 59)).padStart(2, "0")}.${String(prng.int(0, 999999)).padStart(6, "0")}` +
        `       1 ${prng.pick(APPS)}.go:${prng.int(10, 900)}] `
      : `${prng.pick(LEVELS).toUpperCase()}\t${prng.pick(APPS)}: step=${this.#serial} `;
    return head + this.#words(targetBytes - head.length, multibyte, prng.next() < 0.05 ? "\t" : " ");
  }

  #jsonBody(targetBytes: number, multibyte: boolean): string {
    const prng = this.#prng;
    const head = `{"level":"${prng.pick(LEVELS)}","logger":"${prng.pick(APPS)}","step":${this.#serial},` +
      `"rank":${prng.int(0, 63)},"loss":${(prng.next() * 4).toFixed(4)},"msg":"`;
    return head + this.#words(targetBytes - head.length - 2, multibyte, " ") + `"}`;
  }

  /** Words up to about `bytes` UTF-8 bytes (never a quote, backslash or newline). */
  #words(bytes: number, multibyte: boolean, separator: string): string {
    const prng = this.#prng;
    const parts: string[] = [];
    let length = 0;
    do {
      const word = multibyte && prng.next() < 0.35 ? prng.pick(MULTIBYTE) : prng.pick(WORDS);
      parts.push(word);
      length += (WORD_BYTES.get(word) ?? word.length) + 1;
    } while (length < bytes);
    return parts.join(separator);
  }
}
