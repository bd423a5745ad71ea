import assert from "node:assert/strict";
import { parsePodLogPath } from "../../src/discovery/mod.ts";
import { EmittedKeyStore, EvictionJoin, EvictionStage } from "../../src/evict/mod.ts";
import { ApiServerClient, EventInformer, PodInformer, PodStore } from "../../src/k8s/mod.ts";
import type { LogRecord, PodLogPath, RecordOrigin, RecordSink } from "../../src/record.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { KindTracker } from "../../src/telemetry/kinds.ts";
import { Logger } from "../../src/telemetry/log.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { FakeApiServer, type FakePod, makeEvent, makePod, waitUntil } from "../_fakes/apiserver.ts";
import { joinOptions, recordAt } from "./_join_helpers.ts";

class CollectingSink implements RecordSink {
  readonly records: LogRecord[] = [];
  push(record: LogRecord, _origin: RecordOrigin): void {
    this.records.push(record);
  }
  get events(): LogRecord[] {
    return this.records.filter((r) => r.eventName !== undefined);
  }
}

interface Chain extends AsyncDisposable {
  stage: EvictionStage;
  sink: CollectingSink;
  pods: PodInformer;
}

/** The fake API server -> pod informer (+ Event informer) -> eviction stage -> a collecting sink. */
async function startChain(server: FakeApiServer, kv: Deno.Kv): Promise<Chain> {
  const registry = new MetricsRegistry();
  const metrics = createAgentMetrics(registry);
  const kinds = new KindTracker({ registry });
  const logger = new Logger({ write: () => {} });
  const sink = new CollectingSink();
  const stage = new EvictionStage({
    next: sink,
    join: new EvictionJoin(joinOptions({ maxWaitMs: 200 })),
    keys: new EmittedKeyStore({ kv, ttlMs: 86_400_000 }),
    scope: { name: "containerstdout", version: "test" },
    metrics,
    logger,
  });
  const store = new PodStore({ maxPods: 100, deletedPodGraceMs: 60_000, metrics, kinds });
  const client = new ApiServerClient({ baseUrl: server.url, idleTimeoutMs: 5_000 });
  const pods = new PodInformer({
    client,
    store,
    nodeName: "node-a",
    watchTimeoutSeconds: 60,
    metrics,
    kinds,
    logger,
    onDisruption: (d) => stage.detected(d),
  });
  const events = new EventInformer({
    client,
    nodeName: "node-a",
    isLocalPod: (uid) => store.has(uid),
    isReady: () => pods.isSynced(),
    onDisruption: (d) => stage.detected(d),
    watchTimeoutSeconds: 60,
    metrics,
    logger,
  });
  const signal = new AbortController().signal;
  await stage.start(signal);
  await pods.start(signal);
  await events.start(signal);
  return {
    stage,
    sink,
    pods,
    [Symbol.asyncDispose]: async () => {
      await events.stop();
      await pods.stop();
      await stage.stop();
    },
  };
}

function pathOf(pod: FakePod, container = "main", restart = 0): PodLogPath {
  const m = pod.metadata;
  const r = parsePodLogPath(`/var/log/pods/${m.namespace}_${m.name}_${m.uid}/${container}/${restart}.log`);
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}

function push(stage: EvictionStage, path: PodLogPath, atMs: number, body: string): LogRecord {
  const record = recordAt(path, atMs, body);
  stage.push(record, { fileKey: path.path, startOffset: 0, endOffset: 1, sizeBytes: 1, podPath: path });
  return record;
}

function evictedAt(pod: FakePod, atMs: number): FakePod {
  return {
    ...pod,
    status: {
      phase: "Failed",
      reason: "Evicted",
      message: "The node was low on resource: memory.",
      conditions: [{
        type: "DisruptionTarget",
        status: "True",
        reason: "TerminationByKubelet",
        message: "The node was low on resource: memory.",
        lastTransitionTime: new Date(atMs).toISOString().replace(/\.\d+Z$/, "Z"),
      }],
    },
  };
}

Deno.test("eviction seen in the pod status, its condition and its Event gives one event record with the last lines", async () => {
  await using server = await FakeApiServer.start();
  using kv = await Deno.openKv(":memory:");
  const pod = server.addPod(makePod({ name: "trainer-0", namespace: "ml" }));
  await using chain = await startChain(server, kv);
  await waitUntil(() => server.openWatches === 6, "watches open");
  const evictAt = Math.floor(Date.now() / 1000) * 1000;
  push(chain.stage, pathOf(pod), evictAt - 2_000, "step 1000 loss 0.9");
  server.updatePod(evictedAt(pod, evictAt));
  server.addEvent(makeEvent({ reason: "Evicted", pod, message: "The node was low on resource: memory." }));
  await waitUntil(() => chain.sink.events.length === 1, "the event record");
  const late = push(chain.stage, pathOf(pod), evictAt - 500, "saving checkpoint");
  assert.equal(late.attributes["k8s.pod.eviction.reason"], "TerminationByKubelet");
  const [event] = chain.sink.events;
  assert.equal(event.eventName, "k8s.pod.evicted");
  assert.equal(event.body, "The node was low on resource: memory.");
  const lines = event.attributes["k8s.pod.last_lines"] as Array<Record<string, unknown>>;
  assert.deepEqual(lines.map((l) => l.body), ["step 1000 loss 0.9"]);
  assert.equal(event.resource.attributes["k8s.pod.name"], "trainer-0");
});

Deno.test("a preempted pod known only from its Event after deletion still gets its event record", async () => {
  await using server = await FakeApiServer.start();
  using kv = await Deno.openKv(":memory:");
  const pod = server.addPod(makePod({ name: "trainer-1", namespace: "ml" }));
  await using chain = await startChain(server, kv);
  await waitUntil(() => server.openWatches === 6, "watches open");
  const now = Date.now();
  push(chain.stage, pathOf(pod), now - 1_000, "all-reduce 42");
  server.deletePod(pod.metadata.uid);
  server.addEvent(makeEvent({ reason: "Preempted", pod, message: "Preempted by ml/big on node node-a" }));
  await waitUntil(() => chain.sink.events.length === 1, "the event record");
  const [event] = chain.sink.events;
  assert.equal(event.eventName, "k8s.pod.preempted");
  assert.equal(event.body, "Preempted by ml/big on node node-a");
  assert.equal(event.attributes["k8s.pod.eviction.source"], "event");
});
