import assert from "node:assert/strict";
import {
  type AttributionSourceFailure,
  parseAttributionSources,
  parseRank,
  RankResolver,
} from "../../src/enrich/mod.ts";
import { Re2Fields } from "../../src/extract/mod.ts";
import { type PodInfo, toPodInfo } from "../../src/k8s/mod.ts";
import type { Attributes } from "../../src/record.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { makePod, type MakePodOptions } from "../_fakes/apiserver.ts";
import { loadRe2Engine } from "../../src/extract/mod.ts";

// These tests compile patterns with the RE2 engine itself (the agent loads it only when a pattern needs it).
await loadRe2Engine();

const DEFAULT_RANK_SOURCES = [
  "body",
  "env:RANK",
  "completion_index",
  "label:training.kubeflow.org/replica-index",
  "label:jobset.sigs.k8s.io/job-index",
];
const DEFAULT_JOB_SOURCES = [
  "label:training.kubeflow.org/job-name",
  "label:jobset.sigs.k8s.io/jobset-name",
  "label:batch.kubernetes.io/job-name",
  "env:JOB_ID",
];
const DEFAULT_PATTERN = String.raw`^\[(?:rank|default)(?P<rank>\d+)\]:`;

function resolver(rankSources = DEFAULT_RANK_SOURCES, jobSources = DEFAULT_JOB_SOURCES) {
  const metrics = createAgentMetrics(new MetricsRegistry());
  const rank = parseAttributionSources(rankSources, { allowBody: true });
  const job = parseAttributionSources(jobSources, { allowBody: false });
  assert.ok(rank.ok && job.ok);
  const bodyRank = Re2Fields.compile(DEFAULT_PATTERN, {
    maxInputBytes: 4096,
    requiredGroups: ["rank"],
    metrics,
  });
  return {
    resolver: new RankResolver({ rankSources: rank.value, jobIdSources: job.value, bodyRank, metrics }),
    metrics,
  };
}

function pod(options: Partial<MakePodOptions>): PodInfo {
  const result = toPodInfo(makePod({ name: "trainer-0", ...options }), {});
  assert.ok(result.ok);
  return result.value;
}

function worker(env: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return [{ name: "worker", image: "pytorch:2", env }];
}

function attributesOf(r: RankResolver, p: PodInfo | null, body: string): Attributes {
  const attributes: Attributes = {};
  r.apply(r.forContainer(p, "worker"), body, attributes);
  return attributes;
}

const sourceCases: Array<
  { name: string; pod: Partial<MakePodOptions> | null; body: string; want: Attributes }
> = [
  {
    name: "torchrun's env RANK",
    pod: { containers: worker([{ name: "RANK", value: "5" }]) },
    body: "step 1",
    want: { "gen_ai.training.rank": 5, "gen_ai.training.rank.source": "env:RANK" },
  },
  {
    name: "an Indexed Job's completion index",
    pod: {
      annotations: { "batch.kubernetes.io/job-completion-index": "2" },
      labels: { "batch.kubernetes.io/job-name": "sweep" },
    },
    body: "step 1",
    want: {
      "gen_ai.training.rank": 2,
      "gen_ai.training.rank.source": "completion_index",
      "gen_ai.training.job_id": "sweep",
    },
  },
  {
    name: "a Kubeflow PyTorchJob replica index label",
    pod: {
      labels: { "training.kubeflow.org/replica-index": "4", "training.kubeflow.org/job-name": "llama" },
    },
    body: "step 1",
    want: {
      "gen_ai.training.rank": 4,
      "gen_ai.training.rank.source": "label:training.kubeflow.org/replica-index",
      "gen_ai.training.job_id": "llama",
    },
  },
  {
    name: "a JobSet job index label",
    pod: { labels: { "jobset.sigs.k8s.io/job-index": "6", "jobset.sigs.k8s.io/jobset-name": "js" } },
    body: "step 1",
    want: {
      "gen_ai.training.rank": 6,
      "gen_ai.training.rank.source": "label:jobset.sigs.k8s.io/job-index",
      "gen_ai.training.job_id": "js",
    },
  },
  {
    name: "env set from a label by fieldRef",
    pod: {
      labels: { idx: "9" },
      containers: worker([{
        name: "RANK",
        valueFrom: { fieldRef: { fieldPath: "metadata.labels['idx']" } },
      }]),
    },
    body: "step 1",
    want: { "gen_ai.training.rank": 9, "gen_ai.training.rank.source": "env:RANK" },
  },
  {
    name: "env JOB_ID for the job id",
    pod: { containers: worker([{ name: "JOB_ID", value: "run-17" }]) },
    body: "step 1",
    want: { "gen_ai.training.job_id": "run-17" },
  },
  {
    name: "the body prefix, even with no pod known",
    pod: null,
    body: "[rank11]: loss=1",
    want: { "gen_ai.training.rank": 11, "gen_ai.training.rank.source": "body" },
  },
  { name: "nothing at all", pod: {}, body: "step 1", want: {} },
  {
    name: "a non-numeric label (never guessed)",
    pod: { labels: { "training.kubeflow.org/replica-index": "master" } },
    body: "step 1",
    want: {},
  },
]; // deno-fmt-ignore

for (const c of sourceCases) {
  Deno.test(`rank attribution takes ${c.name}`, () => {
    const { resolver: r } = resolver();
    assert.deepEqual(attributesOf(r, c.pod === null ? null : pod(c.pod), c.body), c.want);
  });
}

Deno.test("rank attribution prefers env RANK over the Kubeflow replica index (default order)", () => {
  const { resolver: r } = resolver();
  const p = pod({
    labels: { "training.kubeflow.org/replica-index": "0" },
    containers: worker([{ name: "RANK", value: "1" }]),
  });
  assert.deepEqual(attributesOf(r, p, "x"), {
    "gen_ai.training.rank": 1,
    "gen_ai.training.rank.source": "env:RANK",
  });
});

Deno.test("rank attribution takes the body before env RANK, and env RANK when the body has no prefix", () => {
  const { resolver: r } = resolver();
  const p = pod({ containers: worker([{ name: "RANK", value: "0" }]) });
  assert.deepEqual(attributesOf(r, p, "[rank3]: a"), {
    "gen_ai.training.rank": 3,
    "gen_ai.training.rank.source": "body",
  });
  assert.deepEqual(attributesOf(r, p, "plain"), {
    "gen_ai.training.rank": 0,
    "gen_ai.training.rank.source": "env:RANK",
  });
});

Deno.test("rank attribution tells two ranks interleaved in one container apart by body", () => {
  const { resolver: r, metrics } = resolver();
  const attribution = r.forContainer(pod({}), "worker");
  const ranks = ["[default0]: a", "[default1]: b", "[default1]: c", "[default0]: d", "no prefix"].map(
    (body) => {
      const attributes: Attributes = {};
      r.apply(attribution, body, attributes);
      return attributes["gen_ai.training.rank"];
    },
  );
  assert.deepEqual(ranks, [0, 1, 1, 0, undefined]);
  assert.equal(metrics.rankAttributed.get("body"), 4);
});

Deno.test("rank attribution does not run the body pattern when a source before body decided", () => {
  const { resolver: r, metrics } = resolver(["env:RANK", "body"]);
  const p = pod({ containers: worker([{ name: "RANK", value: "2" }]) });
  assert.deepEqual(attributesOf(r, p, "[rank3]: a"), {
    "gen_ai.training.rank": 2,
    "gen_ai.training.rank.source": "env:RANK",
  });
  assert.equal(metrics.re2Calls.get(), 0);
  assert.equal(metrics.rankAttributed.get("env"), 1);
});

Deno.test("rank attribution reads annotation sources and the env of the named container only", () => {
  const { resolver: r } = resolver(["annotation:example.com/rank", "env:RANK"], []);
  const p = pod({
    annotations: { "example.com/rank": "8" },
    containers: [{ name: "sidecar", env: [{ name: "RANK", value: "1" }] }, { name: "worker" }],
  });
  assert.equal(attributesOf(r, p, "x")["gen_ai.training.rank"], 8);
  const noAnnotation = pod({
    containers: [{ name: "sidecar", env: [{ name: "RANK", value: "1" }] }, { name: "worker" }],
  });
  assert.deepEqual(attributesOf(r, noAnnotation, "x"), {});
});

const badSources: Array<
  { entries: string[]; allowBody: boolean; want: AttributionSourceFailure; entry: string }
> = [
  { entries: ["env:RANK", "pod:RANK"], allowBody: true, want: "unknown_source", entry: "pod:RANK" },
  { entries: ["rank"], allowBody: true, want: "unknown_source", entry: "rank" },
  { entries: ["label:"], allowBody: true, want: "missing_key", entry: "label:" },
  { entries: ["body"], allowBody: false, want: "body_not_allowed", entry: "body" },
];

for (const c of badSources) {
  Deno.test(`attribution sources reject ${JSON.stringify(c.entry)} (${c.want})`, () => {
    assert.deepEqual(parseAttributionSources(c.entries, { allowBody: c.allowBody }), {
      ok: false,
      reason: c.want,
      entry: c.entry,
    });
  });
}

const rankTexts: Array<{ text: string | undefined; want: number | null }> = [
  { text: "0", want: 0 },
  { text: "042", want: 42 },
  { text: "999999999", want: 999999999 },
  { text: "1000000000", want: null },
  { text: "-1", want: null },
  { text: "1.5", want: null },
  { text: " 1", want: null },
  { text: "", want: null },
  { text: undefined, want: null },
];

for (const c of rankTexts) {
  Deno.test(`parseRank reads ${JSON.stringify(c.text)} as ${c.want}`, () => {
    assert.equal(parseRank(c.text), c.want);
  });
}

Deno.test("rank attribution reads a UTF-8 byte body the same as its text", () => {
  const { resolver: r } = resolver();
  const attribution = r.forContainer(pod({}), "worker");
  const bodies = [
    "[default0]: a",
    "[rank7]: é",
    "no prefix",
    "x [rank2]: not at the start",
    "\uFFFD[rank1]: b",
  ];
  for (const body of bodies) {
    const fromText: Attributes = {};
    const fromBytes: Attributes = {};
    r.apply(attribution, body, fromText);
    r.apply(attribution, new TextEncoder().encode(body), fromBytes);
    assert.deepEqual(fromBytes, fromText, body);
  }
});
