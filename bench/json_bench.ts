/**
 * The JSON body stage on the hot path. Each iteration pushes 1000 records (bodies as UTF-8 bytes, as the
 * reader hands them over) through the stage into a sink that drops them, so a per-record cost is the
 * reported time / 1000. Baseline: the same loop with no stage (resetting the record costs the same in
 * both). Targets (issue 10): the JSON splat adds at most 2 us per JSON record; a non-JSON record that is
 * not a dataloader candidate pays under 0.1 us for the JSON and dataloader stages together.
 *
 * JSON bodies are 80-400 B objects like structured loggers write (level, ts, msg, a few scalar fields
 * with integers among them, sometimes a nested object or an array), and zap / structlog style bodies
 * without integral numbers; text bodies are 50-400 B of words, numbers and some
 * multibyte text with no `_time` and no leading `{`.
 *
 * @module
 */

import { DataloaderExtractor, DataloaderStage, JsonBodyStage, parseJsonBody } from "../src/extract/mod.ts";
import type { RecordSink } from "../src/record.ts";
import { TrainingSummaries } from "../src/signals/mod.ts";
import { createAgentMetrics, TRAINING_TIME_BUCKETS_S } from "../src/telemetry/agent_metrics.ts";
import { MetricsRegistry } from "../src/telemetry/metrics.ts";
import { benchText, pushBodies, recordSlots } from "./_bench_records.ts";

const RECORDS = 1000;
const { random, pick, words } = benchText(10);
const LEVELS = ["info", "INFO", "debug", "warn", "error", "WARNING"];
const encoder = new TextEncoder();

function jsonBody(): string {
  const object: Record<string, unknown> = {
    level: pick(LEVELS),
    ts: 1_796_418_000 + Math.floor(random() * 1e6) + Math.floor(random() * 1000) / 1000,
    msg: words(20, 120),
    step: Math.floor(random() * 100_000),
    loss: Math.round(random() * 10_000) / 1000 + 0.0001,
    rank: Math.floor(random() * 64),
  };
  if (random() < 0.3) object.gpu = { id: Math.floor(random() * 8), mem_gib: 61.5, util: 0.93 };
  if (random() < 0.2) object.shape = [8, 2048, 4096];
  if (random() < 0.2) object.host = `node-${Math.floor(random() * 100)}.cluster.local`;
  return JSON.stringify(object);
}

/** A zap / structlog style body: float `ts`, strings and non-integral numbers only. */
function zapBody(): string {
  return JSON.stringify({
    level: pick(LEVELS),
    ts: 1_796_418_000 + Math.floor(random() * 1e6) + 0.5 + Math.floor(random() * 499_999) / 1e6,
    caller: `train/loop.go:${10 + Math.floor(random() * 400)}`,
    msg: words(20, 120),
    loss: Math.round(random() * 10_000) / 1000 + 0.0001,
    lr: 0.00025,
  });
}

/** The e2e bench generator's JSON line: top-level integers only, a 4-decimal float. */
function flatBody(): string {
  return `{"level":"${pick(LEVELS)}","logger":"trainer","step":${Math.floor(random() * 1e6)},` +
    `"rank":${Math.floor(random() * 64)},"loss":${(random() * 4).toFixed(4)},"msg":"${words(20, 120)}"}`;
}

const JSON_BODIES = Array.from({ length: RECORDS }, () => encoder.encode(jsonBody()));
const FLAT_BODIES = Array.from({ length: RECORDS }, () => encoder.encode(flatBody()));
const ZAP_BODIES = Array.from({ length: RECORDS }, () => encoder.encode(zapBody()));
const TEXT_BODIES = Array.from({ length: RECORDS }, () => encoder.encode(words(50, 400)));
const JSON_TEXTS = JSON_BODIES.map((b) => new TextDecoder().decode(b));
const RECORD_SLOTS = recordSlots(RECORDS);

let sunk = 0;
const SINK: RecordSink = { push: () => void sunk++ };
const metrics = createAgentMetrics(new MetricsRegistry());
const bodyStage = new JsonBodyStage({ mode: "body", maxDepth: 8, maxKeys: 128, metrics, next: SINK });
const attributesStage = new JsonBodyStage({
  mode: "attributes",
  maxDepth: 8,
  maxKeys: 128,
  metrics,
  next: SINK,
});
const dataloader = new DataloaderStage({
  extractor: DataloaderExtractor.compile({ maxInputBytes: 4096, metrics }),
  observer: new TrainingSummaries({ bounds: TRAINING_TIME_BUCKETS_S, maxSeries: 512 }),
  metrics,
  next: bodyStage,
});

function run(bodies: readonly Uint8Array[], sink: RecordSink): void {
  pushBodies(RECORD_SLOTS, bodies, sink);
}

Deno.bench({
  name: "json: 1000 JSON records, no stage",
  group: "json-record",
  baseline: true,
  fn: () => run(JSON_BODIES, SINK),
});
Deno.bench({
  name: "json: 1000 JSON records, body mode",
  group: "json-record",
  fn: () => run(JSON_BODIES, bodyStage),
});
Deno.bench({
  name: "json: 1000 zap-style JSON records (no integral numbers), body mode",
  group: "json-record",
  fn: () => run(ZAP_BODIES, bodyStage),
});
Deno.bench({
  name: "json: 1000 flat JSON records (top-level integers only, as bench/e2e writes), body mode",
  group: "json-record",
  fn: () => run(FLAT_BODIES, bodyStage),
});
Deno.bench({
  name: "json: 1000 JSON records, attributes mode",
  group: "json-record",
  fn: () => run(JSON_BODIES, attributesStage),
});
Deno.bench({
  name: "json: 1000 JSON records, dataloader + JSON stages",
  group: "json-record",
  fn: () => run(JSON_BODIES, dataloader),
});
Deno.bench({
  name: "json: 1000 texts, JSON.parse alone (reference)",
  group: "json-record",
  fn: () => {
    for (let i = 0; i < RECORDS; i++) JSON.parse(JSON_TEXTS[i]);
  },
});
Deno.bench({
  name: "json: 1000 texts, parseJsonBody",
  group: "json-record",
  fn: () => {
    for (let i = 0; i < RECORDS; i++) parseJsonBody(JSON_TEXTS[i], { maxDepth: 8, maxKeys: 128 });
  },
});

Deno.bench({
  name: "json: 1000 non-JSON records, no stage",
  group: "text-record",
  baseline: true,
  fn: () => run(TEXT_BODIES, SINK),
});
Deno.bench({
  name: "json: 1000 non-JSON records, JSON stage",
  group: "text-record",
  fn: () => run(TEXT_BODIES, bodyStage),
});
Deno.bench({
  name: "json: 1000 non-JSON records, dataloader + JSON stages",
  group: "text-record",
  fn: () => run(TEXT_BODIES, dataloader),
});

globalThis.addEventListener("unload", () => {
  if (sunk === 0) throw new Error("Bench sink saw no record");
});
