/**
 * What the record-stage benches share: seeded text of words (some multibyte), record objects reused across
 * iterations, and the loop that pushes bodies through a stage.
 *
 * @module
 */

import type { LogRecord, RecordOrigin, RecordSink } from "../src/record.ts";
import { seededRandom } from "./_seeded_random.ts";

const WORDS = [
  "step",
  "loss",
  "allreduce",
  "epoch",
  "batch",
  "NCCL",
  "warmup",
  "ok",
  "学習",
  "✓",
  "grad",
  "42",
];
const encoder = new TextEncoder();

/** A seeded source of choices and of word text, so every run measures the same inputs. */
export interface BenchText {
  /** Floats in [0, 1). */
  random(): number;
  pick<T>(items: readonly T[]): T;
  /** Space-separated words of `minBytes` to `maxBytes` UTF-8 bytes. */
  words(minBytes: number, maxBytes: number): string;
}

/** A {@linkcode BenchText} seeded with `seed`. */
export function benchText(seed: number): BenchText {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  return {
    random,
    pick,
    words(minBytes, maxBytes) {
      const target = minBytes + Math.floor(random() * (maxBytes - minBytes));
      let text = pick(WORDS);
      while (encoder.encode(text).length < target) text += ` ${pick(WORDS)}`;
      return text;
    },
  };
}

/** The origin every bench record is pushed with (no pod path). */
export const BENCH_ORIGIN: RecordOrigin = {
  fileKey: "f",
  startOffset: 0,
  endOffset: 100,
  sizeBytes: 100,
  podPath: null,
};

/** `count` records to reuse: a stage may replace a body or add attributes, so `pushBodies` resets both. */
export function recordSlots(count: number): LogRecord[] {
  const resource = { attributes: {} };
  const scope = { name: "bench", version: "0" };
  return Array.from({ length: count }, () => ({
    hrTime: [1, 0],
    hrTimeObserved: [1, 0],
    body: "",
    attributes: {},
    droppedAttributesCount: 0,
    resource,
    instrumentationScope: scope,
  }));
}

/** Pushes `bodies[i]` in `slots[i]` (with fresh attributes) into `sink`, for every slot. */
export function pushBodies(slots: LogRecord[], bodies: readonly Uint8Array[], sink: RecordSink): void {
  for (let i = 0; i < slots.length; i++) {
    const record = slots[i];
    record.body = bodies[i];
    record.attributes = {};
    sink.push(record, BENCH_ORIGIN);
  }
}
