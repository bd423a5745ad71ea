/**
 * The dataloader timing extractor. Each iteration handles 1000 bodies (UTF-8 bytes, as the reader
 * hands them over), so a per-record cost is the reported time / 1000.
 *
 * - `dataloader-gate`: a non-candidate 50-400 B body (no `_time`): the byte gate alone, SWAR search
 *   against `Uint8Array.prototype.indexOf` (baseline).
 * - `dataloader-candidate`: trainer lines that carry timings (the forms of docs/training-signals.md):
 *   the default patterns on their JS twins against the same patterns forced onto re2-wasm.
 * - `dataloader-stage`: the stage on a typical node mix (5% of records carry timings) against no stage.
 *
 * @module
 */

import {
  DataloaderExtractor,
  DataloaderStage,
  DEFAULT_DATALOADER_PATTERNS,
  loadRe2Engine,
  Re2Fields,
} from "../src/extract/mod.ts";
import type { RecordSink } from "../src/record.ts";
import { TrainingSummaries } from "../src/signals/mod.ts";
import { createAgentMetrics, TRAINING_TIME_BUCKETS_S } from "../src/telemetry/agent_metrics.ts";
import { MetricsRegistry } from "../src/telemetry/metrics.ts";
import { benchText, pushBodies, recordSlots } from "./_bench_records.ts";

// These tests compile patterns with the RE2 engine itself (the agent loads it only when a pattern needs it).
await loadRe2Engine();

const RECORDS = 1000;
const { random, pick, words } = benchText(11);
const encoder = new TextEncoder();

const t = (): string => (random() * 0.5).toFixed(4);
const TRAINER_LINES: (() => string)[] = [
  () => `step ${Math.floor(random() * 1e5)} data_time_s=${t()} iter_time_s=${t()} loss=${t()}`,
  () => `data_time: ${t()} iter_time: ${t()}`,
  () =>
    `Epoch(train)  [1][ 50/1563]  lr: 1.0000e-01  eta: 0:21:36  time: ${t()}  data_time: ${t()}  ` +
    `memory: 1234  loss: 2.3021`,
  () => `Epoch 0:  50%|█████     | 50/100 [00:05<00:05, 9.80it/s, v_num=0, data_time=${t()}, time=${t()}]`,
];

const TEXT_BODIES = Array.from({ length: RECORDS }, () => encoder.encode(words(50, 400)));
const CANDIDATES = Array.from({ length: RECORDS }, () => encoder.encode(pick(TRAINER_LINES)()));
const MIX = Array.from({ length: RECORDS }, (_, i) => (i % 20 === 0 ? CANDIDATES[i] : TEXT_BODIES[i]));
const CANDIDATE_TEXTS = CANDIDATES.map((b) => new TextDecoder().decode(b));
const NEEDLE = encoder.encode("_time");

const metrics = createAgentMetrics(new MetricsRegistry());
const extractor = DataloaderExtractor.compile({ maxInputBytes: 4096, metrics });
const re2Only = DEFAULT_DATALOADER_PATTERNS.map((p) =>
  Re2Fields.compile(p, { maxInputBytes: 4096, engine: "re2", metrics })
);
let sink = 0;
const SINK: RecordSink = { push: () => void sink++ };
const stage = new DataloaderStage({
  extractor,
  observer: new TrainingSummaries({ bounds: TRAINING_TIME_BUCKETS_S, maxSeries: 512 }),
  metrics,
  next: SINK,
});
const SLOTS = recordSlots(RECORDS);

function indexOfGate(h: Uint8Array): boolean {
  let i = h.indexOf(NEEDLE[0]);
  while (i >= 0 && i <= h.length - NEEDLE.length) {
    let j = 1;
    while (j < NEEDLE.length && h[i + j] === NEEDLE[j]) j++;
    if (j === NEEDLE.length) return true;
    i = h.indexOf(NEEDLE[0], i + 1);
  }
  return false;
}

Deno.bench({
  name: "dataloader: gate on 1000 non-candidate bodies, Uint8Array indexOf",
  group: "dataloader-gate",
  baseline: true,
  fn: () => {
    for (let i = 0; i < RECORDS; i++) if (indexOfGate(TEXT_BODIES[i])) sink++;
  },
});
Deno.bench({
  name: "dataloader: gate on 1000 non-candidate bodies, scratch copy + SWAR (the extractor's)",
  group: "dataloader-gate",
  fn: () => {
    for (let i = 0; i < RECORDS; i++) if (extractor.mayMatch(TEXT_BODIES[i])) sink++;
  },
});

Deno.bench({
  name: "dataloader: 1000 trainer lines, patterns forced onto RE2",
  group: "dataloader-candidate",
  baseline: true,
  fn: () => {
    for (let i = 0; i < RECORDS; i++) {
      for (const f of re2Only) if (f.exec(CANDIDATE_TEXTS[i]) !== null) sink++;
    }
  },
});
Deno.bench({
  name: "dataloader: 1000 trainer lines as bytes, default extractor (JS twins)",
  group: "dataloader-candidate",
  fn: () => {
    for (let i = 0; i < RECORDS; i++) if (extractor.extract(CANDIDATES[i]) !== null) sink++;
  },
});

function run(bodies: readonly Uint8Array[], next: RecordSink): void {
  pushBodies(SLOTS, bodies, next);
}

Deno.bench({
  name: "dataloader: 1000 records (5% trainer lines), no stage",
  group: "dataloader-stage",
  baseline: true,
  fn: () => run(MIX, SINK),
});
Deno.bench({
  name: "dataloader: 1000 records (5% trainer lines), dataloader stage",
  group: "dataloader-stage",
  fn: () => run(MIX, stage),
});

globalThis.addEventListener("unload", () => {
  if (sink === 0) throw new Error("Bench saw no match");
});
