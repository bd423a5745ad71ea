import assert from "node:assert/strict";
import {
  ApiServerClient,
  FileTokenSource,
  PodInformer,
  type PodInformerOptions,
  PodStore,
  StaticTokenSource,
  type TokenSource,
} from "../../src/k8s/mod.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { KindTracker } from "../../src/telemetry/kinds.ts";
import { Logger } from "../../src/telemetry/log.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { FakeApiServer, makePod, waitUntil } from "../_fakes/apiserver.ts";

const IDLE_MS = 300;
const GRACE_MS = 50;

interface Stack extends AsyncDisposable {
  informer: PodInformer;
  store: PodStore;
  kinds: KindTracker;
  metrics: ReturnType<typeof createAgentMetrics>;
  logs: string[];
}

async function startInformer(
  server: FakeApiServer,
  options: { token?: TokenSource; idleTimeoutMs?: number } & Partial<PodInformerOptions> = {},
): Promise<Stack> {
  const registry = new MetricsRegistry();
  const metrics = createAgentMetrics(registry);
  const kinds = new KindTracker({ registry });
  const logs: string[] = [];
  const logger = new Logger({ write: (line) => logs.push(line) });
  const store = new PodStore({ maxPods: 100, deletedPodGraceMs: GRACE_MS, metrics, kinds });
  const client = new ApiServerClient({
    baseUrl: server.url,
    token: options.token ?? null,
    idleTimeoutMs: options.idleTimeoutMs ?? IDLE_MS,
  });
  const informer = new PodInformer({
    client,
    store,
    nodeName: "node-a",
    watchTimeoutSeconds: 60,
    metrics,
    kinds,
    logger,
    backoffInitialMs: 20,
    backoffMaxMs: 200,
    sweepIntervalMs: 10,
    ...options,
  });
  await informer.start(new AbortController().signal);
  return { informer, store, kinds, metrics, logs, [Symbol.asyncDispose]: () => informer.stop() };
}

function watchReason(kinds: KindTracker): string {
  return kinds.states().find((s) => s.kind === "Watch")!.reason;
}

Deno.test("informer lists the node's pods, then applies added, modified and deleted events", async () => {
  await using server = await FakeApiServer.start();
  const a = server.addPod(makePod({ name: "a" }));
  const elsewhere = server.addPod(makePod({ name: "elsewhere", nodeName: "node-b" }));
  await using s = await startInformer(server);
  await waitUntil(() => s.informer.isSynced(), "first list");
  assert.equal(s.store.get(a.metadata.uid)?.name, "a");
  assert.equal(s.store.get(elsewhere.metadata.uid), undefined);
  await waitUntil(() => server.openWatches === 1, "watch open");

  const b = server.addPod(makePod({ name: "b", labels: { v: "1" } }));
  await waitUntil(() => s.store.get(b.metadata.uid) !== undefined, "b added");
  server.updatePod({ ...b, metadata: { ...b.metadata, labels: { v: "2" } } });
  await waitUntil(() => s.store.get(b.metadata.uid)?.labels.v === "2", "b modified");
  server.deletePod(b.metadata.uid);
  await waitUntil(
    () => s.store.get(b.metadata.uid) === undefined,
    "b deleted and purged after the grace period",
  );
  assert.deepEqual(
    ["ADDED", "MODIFIED", "DELETED"].map((t) => s.metrics.watchEvents.get(t)),
    [1, 1, 1],
  );
  assert.equal(s.kinds.isRaised("Watch"), false);
  assert.equal(s.informer.health().isHealthy, true);
});

Deno.test("informer watches again from the last bookmark's resourceVersion", async () => {
  await using server = await FakeApiServer.start();
  await using s = await startInformer(server);
  await waitUntil(() => server.openWatches === 1, "watch open");
  const listRv = server.requests.find((r) => r.kind === "watch")!.query.resourceVersion;
  server.addPod(makePod({ name: "other-node", nodeName: "node-b" })); // moves the rv, not seen by this watch
  server.bookmark();
  await waitUntil(() => s.metrics.watchEvents.get("BOOKMARK") === 1, "bookmark received");
  server.dropWatches();
  await waitUntil(() => server.count("watch") === 2, "second watch");
  const rewatchRv = server.requests.filter((r) => r.kind === "watch")[1].query.resourceVersion;
  assert.notEqual(rewatchRv, listRv);
  assert.equal(rewatchRv, server.resourceVersion);
  assert.equal(server.count("list"), 1, "a bookmark spares the relist");
});

Deno.test("informer relists on 410 Gone mid-watch and reconciles deletions it missed", async () => {
  await using server = await FakeApiServer.start();
  const gone = server.addPod(makePod({ name: "gone" }));
  const kept = server.addPod(makePod({ name: "kept" }));
  await using s = await startInformer(server);
  await waitUntil(() => server.openWatches === 1, "watch open");
  server.deletePod(gone.metadata.uid, { silently: true });
  server.goneMidWatch();
  await waitUntil(() => server.count("list") === 2, "relist");
  const lists = server.requests.filter((r) => r.kind === "list").map((r) => r.query.resourceVersion);
  assert.deepEqual(lists, ["0", undefined], "the relist after 410 reads the latest state, not the cache");
  await waitUntil(() => s.store.get(gone.metadata.uid) === undefined, "missed deletion reconciled");
  assert.equal(s.store.get(kept.metadata.uid)?.name, "kept");
  assert.equal(s.metrics.watchRestarts.get("gone"), 1);
  await waitUntil(() => server.openWatches === 1, "watching again");
  assert.equal(s.kinds.isRaised("Watch"), false, "one 410 is routine");
});

Deno.test("informer recovers from a connection dropped mid-stream within the idle timeout", async () => {
  await using server = await FakeApiServer.start();
  await using s = await startInformer(server);
  await waitUntil(() => server.openWatches === 1, "watch open");
  server.addPod(makePod({ name: "before" }));
  await waitUntil(() => s.store.size === 1, "first event");
  const t0 = performance.now();
  server.dropWatches();
  const after = server.addPod(makePod({ name: "after" }));
  await waitUntil(() => s.store.get(after.metadata.uid) !== undefined, "event after the drop", IDLE_MS);
  const recoveredMs = performance.now() - t0;
  assert.ok(recoveredMs < IDLE_MS, `recovered after ${recoveredMs} ms`);
  assert.equal(s.metrics.watchRestarts.get("network"), 1);
  await waitUntil(() => !s.kinds.isRaised("Watch"), "Watch cleared");
});

Deno.test("informer reconnects a hung watch after the idle timeout, raising Watch until events flow", async () => {
  await using server = await FakeApiServer.start();
  await using s = await startInformer(server);
  await waitUntil(() => server.openWatches === 1, "watch open");
  const t0 = performance.now();
  server.silenceWatches();
  const missed = server.addPod(makePod({ name: "sent-while-hung" }));
  await waitUntil(() => s.kinds.isRaised("Watch"), "Watch raised", IDLE_MS + 500);
  assert.match(watchReason(s.kinds), /^Pod watch failed: idle_timeout: API server sent nothing for 300 ms/);
  await waitUntil(() => s.store.get(missed.metadata.uid) !== undefined, "replayed after reconnect", 1_000);
  const recoveredMs = performance.now() - t0;
  assert.ok(recoveredMs < 2 * IDLE_MS, `recovered after ${recoveredMs} ms`);
  await waitUntil(() => !s.kinds.isRaised("Watch"), "Watch cleared by the replayed event");
  assert.equal(s.metrics.watchRestarts.get("idle_timeout"), 1);
});

Deno.test("informer started while the server is down raises Watch, then syncs when it comes up", async () => {
  await using server = await FakeApiServer.start({ startDown: true });
  const pod = server.addPod(makePod({ name: "a" }));
  await using s = await startInformer(server);
  await waitUntil(
    () => /^Pod list failed: network: /.test(watchReason(s.kinds)),
    "Watch raised for the list",
  );
  assert.equal(s.informer.isSynced(), false);
  assert.equal(s.informer.health().isHealthy, false);
  server.up();
  await waitUntil(() => s.informer.isSynced(), "synced after the server came up", 2_000);
  assert.equal(s.store.get(pod.metadata.uid)?.name, "a");
  await waitUntil(() => !s.kinds.isRaised("Watch"), "Watch cleared");
  assert.ok(s.metrics.watchRestarts.get("network") >= 1);
});

Deno.test("informer picks up a rotated token file when the server starts requiring the new token", async () => {
  const dir = await Deno.makeTempDir({ prefix: "informer_token_" });
  try {
    const path = `${dir}/token`;
    await Deno.writeTextFile(path, "first");
    await using server = await FakeApiServer.start({ token: "first" });
    await using s = await startInformer(server, {
      token: new FileTokenSource({ path, refreshIntervalMs: 3_600_000 }),
    });
    await waitUntil(() => server.openWatches === 1, "watch open");
    await Deno.writeTextFile(path, "second");
    server.setToken("second");
    server.dropWatches();
    const pod = server.addPod(makePod({ name: "after-rotation" }));
    await waitUntil(() => s.store.get(pod.metadata.uid) !== undefined, "watching with the new token", 2_000);
    assert.ok(server.requests.some((r) => r.token === "first" && r.status === 401));
    assert.ok(server.requests.some((r) => r.token === "second" && r.status === 200));
    assert.equal(s.metrics.watchRestarts.get("unauthorized"), 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("informer keeps only pods of accepted namespaces", async () => {
  await using server = await FakeApiServer.start();
  server.addPod(makePod({ name: "app", namespace: "ml" }));
  server.addPod(makePod({ name: "dns", namespace: "kube-system" }));
  await using s = await startInformer(server, { acceptNamespace: (ns) => ns !== "kube-system" });
  await waitUntil(() => s.informer.isSynced(), "synced");
  await waitUntil(() => server.openWatches === 1, "watch open");
  server.addPod(makePod({ name: "proxy", namespace: "kube-system" }));
  const later = server.addPod(makePod({ name: "later", namespace: "ml" }));
  await waitUntil(() => s.store.get(later.metadata.uid) !== undefined, "later added");
  assert.equal(s.store.size, 2);
});

Deno.test("informer stop is idempotent and aborts a hung request at once", async () => {
  await using server = await FakeApiServer.start({ token: "t" });
  const s = await startInformer(server, { token: new StaticTokenSource("t"), idleTimeoutMs: 10_000 });
  server.hangNextWatches(1);
  await waitUntil(() => server.openWatches === 1, "hung watch open");
  const t0 = performance.now();
  await Promise.all([s.informer.stop(), s.informer.stop()]);
  await s.informer.stop();
  assert.ok(performance.now() - t0 < 500, "stop did not wait for the idle timeout");
  await waitUntil(() => server.openWatches === 0, "server saw the watch end");
});
