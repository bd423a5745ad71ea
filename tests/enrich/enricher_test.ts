import assert from "node:assert/strict";
import { parsePodLogPath } from "../../src/discovery/mod.ts";
import { Enricher, parseAttributionSources, RankResolver } from "../../src/enrich/mod.ts";
import { ApiServerClient, PodInformer, PodStore, toPodInfo } from "../../src/k8s/mod.ts";
import type { Attributes, PodLogPath } from "../../src/record.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { KindTracker } from "../../src/telemetry/kinds.ts";
import { Logger } from "../../src/telemetry/log.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { FakeApiServer, type FakePod, makePod, type MakePodOptions, waitUntil } from "../_fakes/apiserver.ts";

const UID = "0f8e6c1a-0000-4000-8000-000000000001";
const GRACE_MS = 50;

function logPath(file = "0.log", uid = UID, name = "trainer-0"): PodLogPath {
  const result = parsePodLogPath(`/var/log/pods/ml_${name}_${uid}/worker/${file}`);
  assert.ok(result.ok);
  return result.value;
}

function trainer(options: Partial<MakePodOptions> = {}): FakePod {
  return makePod({
    name: "trainer-0",
    namespace: "ml",
    uid: UID,
    containers: [{ name: "worker", image: "pytorch:2", env: [{ name: "RANK", value: "3" }] }],
    ...options,
  });
}

function parts() {
  const registry = new MetricsRegistry();
  const metrics = createAgentMetrics(registry);
  const kinds = new KindTracker({ registry });
  const store = new PodStore({ maxPods: 10, deletedPodGraceMs: GRACE_MS, metrics, kinds });
  const sources = parseAttributionSources(["env:RANK"], { allowBody: false });
  assert.ok(sources.ok);
  const rank = new RankResolver({ rankSources: sources.value, jobIdSources: [], bodyRank: null, metrics });
  const enricher = new Enricher({ nodeName: "node-a", store, rank, metrics });
  return { metrics, kinds, store, enricher };
}

function upsert(store: PodStore, pod: FakePod): void {
  const result = toPodInfo(pod, {});
  assert.ok(result.ok);
  store.upsert(result.value);
}

function attribute(enricher: Enricher, path: PodLogPath): Attributes {
  const attributes: Attributes = {};
  enricher.attribute(path, "step 1", attributes);
  return attributes;
}

Deno.test("enricher without a store shares one path-metadata resource per container and restart", () => {
  const enricher = new Enricher({ nodeName: "node-a" });
  const current = logPath("0.log");
  const rotated = logPath("0.log.20240101-000000");
  assert.equal(enricher.resourceFor(current), enricher.resourceFor(rotated));
  assert.notEqual(enricher.resourceFor(current), enricher.resourceFor(logPath("1.log")));
  assert.deepEqual(enricher.resourceFor(current).attributes, {
    "k8s.namespace.name": "ml",
    "k8s.pod.name": "trainer-0",
    "k8s.container.name": "worker",
    "k8s.container.restart_count": 0,
    "k8s.pod.uid": UID,
    "k8s.node.name": "node-a",
  });
  assert.deepEqual(attribute(enricher, current), {});
});

Deno.test("enricher gives path metadata for an unknown pod and counts the record, then joins the pod", () => {
  const { enricher, store, metrics } = parts();
  const path = logPath();
  const early = enricher.resourceFor(path);
  assert.equal(early.attributes["container.image.name"], undefined);
  assert.deepEqual(attribute(enricher, path), {});
  assert.equal(metrics.recordsWithoutPodMetadata.get(), 1);
  upsert(store, trainer());
  const late = enricher.resourceFor(path);
  assert.notEqual(late, early);
  assert.equal(late.attributes["container.image.name"], "pytorch");
  assert.deepEqual(attribute(enricher, path), {
    "gen_ai.training.rank": 3,
    "gen_ai.training.rank.source": "env:RANK",
  });
  assert.equal(metrics.recordsWithoutPodMetadata.get(), 1);
});

Deno.test("enricher keeps the resource object while the pod's kept metadata is unchanged", () => {
  const { enricher, store } = parts();
  upsert(store, trainer());
  const path = logPath();
  const first = enricher.resourceFor(path);
  const statusOnly = trainer();
  statusOnly.status = { phase: "Succeeded" };
  upsert(store, statusOnly);
  upsert(store, makePod({ name: "unrelated" }));
  assert.equal(enricher.resourceFor(path), first);
  upsert(store, trainer({ labels: { stage: "2" } }));
  assert.notEqual(enricher.resourceFor(path), first);
});

Deno.test("enricher resolves a new rank when the pod's env changes", () => {
  const { enricher, store } = parts();
  upsert(store, trainer());
  const path = logPath();
  assert.equal(attribute(enricher, path)["gen_ai.training.rank"], 3);
  upsert(store, trainer({ containers: [{ name: "worker", env: [{ name: "RANK", value: "4" }] }] }));
  assert.equal(attribute(enricher, path)["gen_ai.training.rank"], 4);
});

Deno.test("enricher keeps one container's entry until its last open file closes", () => {
  const { enricher, store } = parts();
  upsert(store, trainer());
  const rotated = logPath("0.log.20240101-000000");
  const current = logPath("0.log");
  enricher.fileOpened(rotated);
  enricher.fileOpened(current);
  const resource = enricher.resourceFor(current);
  enricher.fileClosed(rotated);
  assert.equal(enricher.resourceFor(current), resource);
  enricher.fileClosed(current);
  assert.notEqual(enricher.resourceFor(current), resource, "rebuilt after the container's files were closed");
});

interface Live extends AsyncDisposable {
  enricher: Enricher;
  store: PodStore;
  kinds: KindTracker;
  metrics: ReturnType<typeof createAgentMetrics>;
  informer: PodInformer;
}

async function live(server: FakeApiServer): Promise<Live> {
  const { metrics, kinds, store, enricher } = parts();
  const informer = new PodInformer({
    client: new ApiServerClient({ baseUrl: server.url, idleTimeoutMs: 300 }),
    store,
    nodeName: "node-a",
    watchTimeoutSeconds: 60,
    metrics,
    kinds,
    logger: new Logger({ write: () => {} }),
    backoffInitialMs: 20,
    backoffMaxMs: 100,
    sweepIntervalMs: 10,
  });
  await informer.start(new AbortController().signal);
  return { enricher, store, kinds, metrics, informer, [Symbol.asyncDispose]: () => informer.stop() };
}

Deno.test("enricher still attributes a pod deleted while its file is open, until the file is drained", async () => {
  await using server = await FakeApiServer.start();
  server.addPod(trainer());
  await using s = await live(server);
  const path = logPath();
  await waitUntil(
    () => s.enricher.resourceFor(path).attributes["container.image.name"] === "pytorch",
    "pod known",
  );
  s.enricher.fileOpened(path);
  server.deletePod(UID);
  await waitUntil(() => s.store.isDeleted(UID), "deletion seen");
  const deadline = Date.now() + 5 * GRACE_MS;
  while (Date.now() < deadline) {
    assert.equal(s.enricher.resourceFor(path).attributes["container.image.name"], "pytorch");
    assert.equal(attribute(s.enricher, path)["gen_ai.training.rank"], 3, "late lines keep their rank");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  s.enricher.fileClosed(path);
  await waitUntil(() => s.store.get(UID) === undefined, "purged after the grace period");
  assert.equal(s.enricher.resourceFor(path).attributes["container.image.name"], undefined);
});

Deno.test("enricher gives path metadata while the API server is down at start, pod metadata once it is up", async () => {
  await using server = await FakeApiServer.start({ startDown: true });
  server.addPod(trainer());
  await using s = await live(server);
  const path = logPath();
  await waitUntil(() => s.kinds.isRaised("Watch"), "Watch raised");
  assert.deepEqual(s.enricher.resourceFor(path).attributes["k8s.pod.name"], "trainer-0");
  assert.deepEqual(attribute(s.enricher, path), {});
  assert.equal(s.metrics.recordsWithoutPodMetadata.get(), 1);
  server.up();
  await waitUntil(() => s.informer.isSynced() && !s.kinds.isRaised("Watch"), "synced, Watch cleared", 2_000);
  assert.equal(s.enricher.resourceFor(path).attributes["container.image.name"], "pytorch");
  assert.equal(attribute(s.enricher, path)["gen_ai.training.rank"], 3);
});
