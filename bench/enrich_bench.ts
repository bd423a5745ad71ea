/**
 * The enricher on the hot path: `resourceFor` once per read chunk and `attribute` once per record. Each
 * iteration enriches 1000 records read as chunks of 25 records from one container at a time (110 pods
 * known), so a per-record cost is the reported time / 1000. Baseline: path metadata only. The mixes: a
 * typical node (5% of lines carry a torchrun rank prefix), and a torchrun container where every line
 * does (the matcher runs on each). "JS engine" is what the default pattern runs on; "RE2 engine" forces
 * re2-wasm; "no pre-filter" uses an equivalent pattern the literal pre-filter cannot read, so every
 * record goes to RE2. A last group compares the body matchers on one line.
 *
 * @module
 */

import { parsePodLogPath } from "../src/discovery/mod.ts";
import { Enricher, parseAttributionSources, RankResolver } from "../src/enrich/mod.ts";
import { Re2Fields } from "../src/extract/mod.ts";
import { PodStore, toPodInfo } from "../src/k8s/mod.ts";
import type { Attributes, PodLogPath } from "../src/record.ts";
import { createAgentMetrics } from "../src/telemetry/agent_metrics.ts";
import { KindTracker } from "../src/telemetry/kinds.ts";
import { MetricsRegistry } from "../src/telemetry/metrics.ts";
import { seededRandom } from "./_seeded_random.ts";
import { loadRe2Engine } from "../src/extract/mod.ts";

// These tests compile patterns with the RE2 engine itself (the agent loads it only when a pattern needs it).
await loadRe2Engine();

const RECORDS = 1000;
const CHUNK_RECORDS = 25;
const PODS = 110;
const DEFAULT_PATTERN = String.raw`^\[(?:rank|default)(?P<rank>\d+)\]:`;
// Same language as DEFAULT_PATTERN, but the leading class hides the literal prefix from the pre-filter.
const UNFILTERED_PATTERN = String.raw`^[\[](?:rank|default)(?P<rank>\d+)\]:`;
const RANK_SOURCES = [
  "body",
  "env:RANK",
  "completion_index",
  "label:training.kubeflow.org/replica-index",
  "label:jobset.sigs.k8s.io/job-index",
];
const JOB_SOURCES = [
  "label:training.kubeflow.org/job-name",
  "label:batch.kubernetes.io/job-name",
  "env:JOB_ID",
];

const random = seededRandom(7);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
const WORDS = [
  "step",
  "loss",
  "allreduce",
  "epoch",
  "batch",
  "grad_norm",
  "NCCL",
  "warmup",
  "ok",
  "学習",
  "✓",
];

function body(prefixed: boolean): string {
  const target = 50 + Math.floor(random() * 350);
  let text = random() < 0.3
    ? `{"level":"info","msg":"${pick(WORDS)}","step":${Math.floor(random() * 1e5)}}`
    : "";
  while (text.length < target) text += `${pick(WORDS)}=${(random() * 10).toFixed(4)} `;
  return prefixed ? `[${pick(["rank", "default"])}${Math.floor(random() * 8)}]: ${text}` : text;
}

const uid = (i: number): string => `0f8e6c1a-0000-4000-8000-${String(i).padStart(12, "0")}`;
const PATHS: PodLogPath[] = Array.from({ length: PODS }, (_, i) => {
  const result = parsePodLogPath(`/var/log/pods/ml_trainer-${i}_${uid(i)}/worker/0.log`);
  if (!result.ok) throw new Error("bad path");
  return result.value;
});
const TYPICAL = Array.from({ length: RECORDS }, () => body(random() < 0.05));
const TORCHRUN = Array.from({ length: RECORDS }, () => body(true));

function enricher(options: { pattern: string | null; hasPods: boolean; engine?: "auto" | "re2" }): Enricher {
  const registry = new MetricsRegistry();
  const metrics = createAgentMetrics(registry);
  if (options.pattern === null) return new Enricher({ nodeName: "node-a" });
  const kinds = new KindTracker({ registry });
  const store = new PodStore({ maxPods: 2000, deletedPodGraceMs: 30_000, metrics, kinds });
  for (let i = 0; options.hasPods && i < PODS; i++) {
    const pod = toPodInfo({
      metadata: {
        uid: uid(i),
        name: `trainer-${i}`,
        namespace: "ml",
        labels: { "batch.kubernetes.io/job-name": "train", "training.kubeflow.org/replica-index": String(i) },
        ownerReferences: [{ kind: "Job", name: "train", controller: true }],
      },
      spec: {
        nodeName: "node-a",
        containers: [{ name: "worker", image: "pytorch:2", env: [{ name: "RANK", value: String(i) }] }],
      },
    }, {});
    if (pod.ok) store.upsert(pod.value);
  }
  const rankSources = parseAttributionSources(RANK_SOURCES, { allowBody: true });
  const jobIdSources = parseAttributionSources(JOB_SOURCES, { allowBody: false });
  if (!rankSources.ok || !jobIdSources.ok) throw new Error("bad sources");
  const bodyRank = Re2Fields.compile(options.pattern, {
    maxInputBytes: 4096,
    requiredGroups: ["rank"],
    metrics,
    engine: options.engine ?? "auto",
  });
  const rank = new RankResolver({
    rankSources: rankSources.value,
    jobIdSources: jobIdSources.value,
    bodyRank,
    metrics,
  });
  return new Enricher({ nodeName: "node-a", store, rank, metrics });
}

let sink = 0;
function run(e: Enricher, bodies: readonly string[]): void {
  let path = PATHS[0];
  for (let i = 0; i < bodies.length; i++) {
    if (i % CHUNK_RECORDS === 0) {
      path = PATHS[(i / CHUNK_RECORDS) % PODS];
      sink += e.resourceFor(path).attributes === undefined ? 1 : 0;
    }
    const attributes: Attributes = {};
    e.attribute(path, bodies[i], attributes);
    if (attributes["gen_ai.training.rank"] !== undefined) sink++;
  }
}

const PATH_ONLY = enricher({ pattern: null, hasPods: false });
const FULL = enricher({ pattern: DEFAULT_PATTERN, hasPods: true });
const FULL_RE2 = enricher({ pattern: DEFAULT_PATTERN, hasPods: true, engine: "re2" });
const NO_PREFILTER = enricher({ pattern: UNFILTERED_PATTERN, hasPods: true });
const PODS_UNKNOWN = enricher({ pattern: DEFAULT_PATTERN, hasPods: false });

Deno.bench("enrich: 1000 records, path metadata only", { group: "typical", baseline: true }, () => {
  run(PATH_ONLY, TYPICAL);
});
Deno.bench("enrich: 1000 records, pods + rank/job, pre-filter, JS engine", { group: "typical" }, () => {
  run(FULL, TYPICAL);
});
Deno.bench("enrich: 1000 records, pods + rank/job, pre-filter, RE2 engine", { group: "typical" }, () => {
  run(FULL_RE2, TYPICAL);
});
Deno.bench("enrich: 1000 records, pods + rank/job, no pre-filter, RE2 engine", { group: "typical" }, () => {
  run(NO_PREFILTER, TYPICAL);
});
Deno.bench("enrich: 1000 records, pods not (yet) known", { group: "typical" }, () => {
  run(PODS_UNKNOWN, TYPICAL);
});

Deno.bench("enrich: 1000 torchrun records, path metadata only", { group: "torchrun", baseline: true }, () => {
  run(PATH_ONLY, TORCHRUN);
});
Deno.bench("enrich: 1000 torchrun records, pods + rank/job, JS engine", { group: "torchrun" }, () => {
  run(FULL, TORCHRUN);
});
Deno.bench("enrich: 1000 torchrun records, pods + rank/job, RE2 engine", { group: "torchrun" }, () => {
  run(FULL_RE2, TORCHRUN);
});

const metrics = createAgentMetrics(new MetricsRegistry());
const RE2_RANK = Re2Fields.compile(DEFAULT_PATTERN, { maxInputBytes: 4096, metrics, engine: "re2" });
const AUTO_RANK = Re2Fields.compile(DEFAULT_PATTERN, { maxInputBytes: 4096, metrics });
const JS_RANK = /^\[(?:rank|default)(?<rank>\d+)\]:/;
const LINE = TORCHRUN[0];

function scanRank(line: string): number {
  const prefix = line.startsWith("[rank") ? 5 : line.startsWith("[default") ? 8 : -1;
  if (prefix === -1) return -1;
  let i = prefix;
  let rank = 0;
  while (i < line.length && line.charCodeAt(i) >= 48 && line.charCodeAt(i) <= 57 && i - prefix < 9) {
    rank = rank * 10 + line.charCodeAt(i) - 48;
    i++;
  }
  return i > prefix && line.charCodeAt(i) === 93 && line.charCodeAt(i + 1) === 58 ? rank : -1;
}

Deno.bench("rank from one prefixed line: hand scanner", { group: "matcher", baseline: true }, () => {
  sink += scanRank(LINE);
});
Deno.bench("rank from one prefixed line: JS RegExp", { group: "matcher" }, () => {
  sink += Number(JS_RANK.exec(LINE)?.groups?.rank ?? -1);
});
Deno.bench("rank from one prefixed line: Re2Fields on the JS engine", { group: "matcher" }, () => {
  sink += Number(AUTO_RANK.exec(LINE)?.rank ?? -1);
});
Deno.bench("rank from one prefixed line: RE2 (re2-wasm)", { group: "matcher" }, () => {
  sink += Number(RE2_RANK.exec(LINE)?.rank ?? -1);
});
Deno.bench("rank from one unprefixed line: RE2 behind the pre-filter", { group: "matcher" }, () => {
  sink += Number(RE2_RANK.exec(TYPICAL[1])?.rank ?? -1);
});

globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink);
});
