import assert from "node:assert/strict";
import { type Config, validateConfig } from "../../src/config/mod.ts";
import { buildEnrichment, type Enrichment, EnrichmentConfigError } from "../../src/enrich/mod.ts";
import { Re2CompileError } from "../../src/extract/mod.ts";
import { K8sConnectionError } from "../../src/k8s/mod.ts";
import { parsePodLogPath } from "../../src/discovery/mod.ts";
import type { Attributes, PodLogPath } from "../../src/record.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { KindTracker } from "../../src/telemetry/kinds.ts";
import { Logger } from "../../src/telemetry/log.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { FakeApiServer, makePod, testCerts, waitUntil } from "../_fakes/apiserver.ts";

const UID = "0f8e6c1a-0000-4000-8000-000000000001";

function config(raw: Record<string, unknown>, k8s: Partial<Config["k8s"]> = {}): Config {
  const result = validateConfig({ node_name: "node-a", ...raw }, { env: () => undefined });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  // Below the validator's 5 s minimum, so the tests stay fast.
  return { ...result.value, k8s: { ...result.value.k8s, watchIdleTimeoutMs: 300, ...k8s } };
}

function build(cfg: Config, env: Record<string, string> = {}): Promise<Enrichment> {
  const registry = new MetricsRegistry();
  return buildEnrichment({
    config: cfg,
    metrics: createAgentMetrics(registry),
    kinds: new KindTracker({ registry }),
    logger: new Logger({ write: () => {} }),
    env: (name) => env[name],
  });
}

function path(): PodLogPath {
  const result = parsePodLogPath(`/var/log/pods/ml_trainer-0_${UID}/worker/0.log`);
  assert.ok(result.ok);
  return result.value;
}

async function withServiceAccount<T>(token: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "build_sa_" });
  try {
    await Deno.writeTextFile(`${dir}/token`, token);
    await Deno.writeTextFile(`${dir}/ca.crt`, (await testCerts()).caPem);
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("buildEnrichment with k8s off gives an enricher with body rank and no informer", async () => {
  const { enricher, informer } = await build(config({ k8s: { mode: "off" } }));
  assert.equal(informer, null);
  const attributes: Attributes = {};
  enricher.attribute(path(), "[rank2]: hi", attributes);
  assert.deepEqual(attributes, { "gen_ai.training.rank": 2, "gen_ai.training.rank.source": "body" });
});

Deno.test("buildEnrichment in auto mode without cluster or kubeconfig leaves pod metadata off", async () => {
  const { informer } = await build(config({}));
  assert.equal(informer, null);
});

const badRegexes: Array<{ name: string; pattern: string; reason: string }> = [
  { name: "does not compile", pattern: String.raw`^\[rank(?P<rank>\d+`, reason: "syntax" },
  { name: "uses lookahead", pattern: String.raw`^(?=\[)(?P<rank>\d+)`, reason: "syntax" },
  { name: "has rank only as text", pattern: String.raw`^rank \(?P<rank>\d+`, reason: "missing_group" },
];

for (const c of badRegexes) {
  Deno.test(`buildEnrichment throws Re2CompileError when process_rank_regex ${c.name}`, async () => {
    const cfg = config({ k8s: { mode: "off" } });
    const broken = { ...cfg, attribution: { ...cfg.attribution, processRankRegex: c.pattern } };
    const error = await build(broken).catch((e) => e);
    assert.ok(error instanceof Re2CompileError, String(error));
    assert.equal(error.reason, c.reason);
    assert.match(error.message, /^Invalid RE2 pattern /);
  });
}

Deno.test("buildEnrichment does not compile the rank regex when body is not a source", async () => {
  const cfg = config({ k8s: { mode: "off" }, attribution: { rank_source: ["env:RANK"] } });
  const broken = { ...cfg, attribution: { ...cfg.attribution, processRankRegex: "(" } };
  const { informer } = await build(broken);
  assert.equal(informer, null);
});

Deno.test("buildEnrichment rejects an unknown attribution source", async () => {
  const cfg = config({ k8s: { mode: "off" } });
  const broken = { ...cfg, attribution: { ...cfg.attribution, jobIdSource: ["body"] } };
  await assert.rejects(build(broken), EnrichmentConfigError);
});

Deno.test("buildEnrichment in cluster mode needs a readable token file", async () => {
  const cfg = config({}, { mode: "in_cluster", tokenPath: "/nonexistent/token" });
  const error = await build(cfg, { KUBERNETES_SERVICE_HOST: "127.0.0.1" }).catch((e) => e);
  assert.ok(error instanceof K8sConnectionError);
  assert.match(
    error.message,
    /^Cannot use in-cluster mode: Cannot read service account token: \/nonexistent\/token: /,
  );
});

Deno.test("buildEnrichment in cluster mode needs a node name", async () => {
  await withServiceAccount("t", async (dir) => {
    const cfg = {
      ...config({}, { mode: "in_cluster", tokenPath: `${dir}/token`, caPath: `${dir}/ca.crt` }),
      nodeName: "",
    };
    await assert.rejects(build(cfg, { KUBERNETES_SERVICE_HOST: "127.0.0.1" }), EnrichmentConfigError);
  });
});

const hosts: Array<
  { name: string; env: (port: number) => Record<string, string>; apiServer: (port: number) => string }
> = [
  {
    name: "a k8s.api_server address while KUBERNETES_SERVICE_HOST is set",
    env: () => ({ KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" }),
    apiServer: (port) => `https://127.0.0.1:${port}`,
  },
  { name: "a k8s.api_server host name", env: () => ({}), apiServer: (port) => `https://localhost:${port}` },
]; // deno-fmt-ignore

for (const c of hosts) {
  Deno.test(`buildEnrichment in cluster mode syncs pod metadata from the API server named by ${c.name}`, async () => {
    await using server = await FakeApiServer.start({ tls: true, token: "sa-token" });
    server.addPod(makePod({
      name: "trainer-0",
      namespace: "ml",
      uid: UID,
      labels: { app: "llm", "batch.kubernetes.io/job-name": "train", noise: "x" },
      ownerReferences: [{ kind: "Job", name: "train" }],
      containers: [{ name: "worker", image: "pytorch:2", env: [{ name: "RANK", value: "1" }] }],
    }));
    await withServiceAccount("sa-token\n", async (dir) => {
      const port = Number(new URL(server.url).port);
      const cfg = config({ k8s: { pod_labels: ["app"] } }, {
        mode: "in_cluster",
        apiServer: c.apiServer(port),
        tokenPath: `${dir}/token`,
        caPath: `${dir}/ca.crt`,
      });
      const { enricher, informer } = await build(cfg, c.env(port));
      assert.ok(informer !== null);
      await informer.start(new AbortController().signal);
      try {
        await waitUntil(() => informer.health().isHealthy, "informer synced");
        const attributes = enricher.resourceFor(path()).attributes;
        assert.equal(attributes["k8s.pod.label.app"], "llm");
        assert.equal(attributes["k8s.pod.label.noise"], undefined);
        assert.equal(attributes["k8s.job.name"], "train");
        const record: Attributes = {};
        enricher.attribute(path(), "step", record);
        assert.deepEqual(record, {
          "gen_ai.training.job_id": "train",
          "gen_ai.training.rank": 1,
          "gen_ai.training.rank.source": "env:RANK",
        });
      } finally {
        await informer.stop();
      }
    });
  });
}
