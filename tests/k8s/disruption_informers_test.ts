import assert from "node:assert/strict";
import { ApiServerClient, type Disruption, EventInformer, PodInformer, PodStore } from "../../src/k8s/mod.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { KindTracker } from "../../src/telemetry/kinds.ts";
import { Logger } from "../../src/telemetry/log.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { FakeApiServer, type FakePod, makeEvent, makePod, waitUntil } from "../_fakes/apiserver.ts";

interface Stack extends AsyncDisposable {
  pods: PodInformer;
  events: EventInformer | null;
  store: PodStore;
  seen: Disruption[];
  metrics: ReturnType<typeof createAgentMetrics>;
}

async function start(
  server: FakeApiServer,
  options: { events?: boolean; acceptNamespace?: (ns: string) => boolean } = {},
): Promise<Stack> {
  const registry = new MetricsRegistry();
  const metrics = createAgentMetrics(registry);
  const kinds = new KindTracker({ registry });
  const logger = new Logger({ write: () => {} });
  const store = new PodStore({ maxPods: 100, deletedPodGraceMs: 60_000, metrics, kinds });
  const client = new ApiServerClient({ baseUrl: server.url, idleTimeoutMs: 5_000 });
  const seen: Disruption[] = [];
  const pods = new PodInformer({
    client,
    store,
    nodeName: "node-a",
    watchTimeoutSeconds: 60,
    metrics,
    kinds,
    logger,
    acceptNamespace: options.acceptNamespace,
    onDisruption: (d) => seen.push(d),
  });
  const events = options.events
    ? new EventInformer({
      client,
      nodeName: "node-a",
      isLocalPod: (uid) => store.has(uid),
      isReady: () => pods.isSynced(),
      onDisruption: (d) => seen.push(d),
      watchTimeoutSeconds: 60,
      metrics,
      logger,
      backoffInitialMs: 20,
      backoffMaxMs: 200,
    })
    : null;
  const signal = new AbortController().signal;
  await pods.start(signal);
  await events?.start(signal);
  return {
    pods,
    events,
    store,
    seen,
    metrics,
    [Symbol.asyncDispose]: async () => {
      await events?.stop();
      await pods.stop();
    },
  };
}

function withStatus(pod: FakePod, status: Record<string, unknown>): FakePod {
  return { ...pod, status: { phase: "Running", ...status } };
}

const DISRUPTION_TARGET = {
  conditions: [{
    type: "DisruptionTarget",
    status: "True",
    reason: "EvictionByEvictionAPI",
    message: "Eviction API: evicting",
    lastTransitionTime: "2026-03-01T12:00:00Z",
  }],
};

Deno.test("pod informer reports a DisruptionTarget condition from a modified pod", async () => {
  await using server = await FakeApiServer.start();
  const pod = server.addPod(makePod({ name: "trainer-0", namespace: "ml" }));
  await using s = await start(server);
  await waitUntil(() => server.openWatches === 1, "watch open");
  assert.equal(s.seen.length, 0);
  server.updatePod(withStatus(pod, DISRUPTION_TARGET));
  await waitUntil(() => s.seen.length === 1, "the disruption");
  assert.equal(s.seen[0].eventName, "k8s.pod.evicted");
  assert.equal(s.seen[0].reason, "EvictionByEvictionAPI");
  assert.equal(s.seen[0].podUid, pod.metadata.uid);
});

Deno.test("pod informer reports the disruption a deleted pod's last state shows", async () => {
  await using server = await FakeApiServer.start();
  const pod = server.addPod(makePod({ name: "trainer-1", namespace: "ml" }));
  await using s = await start(server);
  await waitUntil(() => server.openWatches === 1, "watch open");
  const preempted = withStatus(pod, {
    conditions: [{ type: "DisruptionTarget", status: "True", reason: "PreemptionByScheduler" }],
  });
  // Straight to deletion: the only object that shows the condition is the DELETED event's.
  server.deletePod(pod.metadata.uid, { lastState: preempted });
  await waitUntil(() => s.seen.some((d) => d.eventName === "k8s.pod.preempted"), "the preemption");
  assert.ok(s.store.isDeleted(pod.metadata.uid));
});

Deno.test("pod informer reports disruptions of listed pods after they are in the store", async () => {
  await using server = await FakeApiServer.start();
  const oomPod = withStatus(makePod({ name: "trainer-2", namespace: "ml" }), {
    containerStatuses: [{
      name: "main",
      restartCount: 1,
      lastState: { terminated: { reason: "OOMKilled", exitCode: 137, finishedAt: "2026-03-01T12:00:00Z" } },
    }],
  });
  server.addPod(oomPod);
  server.addPod(withStatus(makePod({ name: "kept-out", namespace: "other" }), DISRUPTION_TARGET));
  let storeHadPod = false;
  await using s = await start(server, { acceptNamespace: (ns) => ns === "ml" });
  await waitUntil(() => s.seen.length === 1, "the OOM kill");
  storeHadPod = s.store.has(oomPod.metadata.uid);
  assert.ok(storeHadPod);
  assert.deepEqual([s.seen[0].eventName, s.seen[0].containerName, s.seen[0].restartCount], [
    "k8s.container.oom_killed",
    "main",
    0,
  ]);
});

Deno.test("event informer turns this node's pods' Events into disruptions and ignores other pods", async () => {
  await using server = await FakeApiServer.start();
  const local = server.addPod(makePod({ name: "trainer-3", namespace: "ml" }));
  const remote = server.addPod(makePod({ name: "elsewhere", namespace: "ml", nodeName: "node-b" }));
  // Listed at start (present before the informer), then watched.
  server.addEvent(
    makeEvent({ reason: "Evicted", pod: local, message: "The node was low on resource: memory." }),
  );
  await using s = await start(server, { events: true });
  await waitUntil(() => s.seen.length === 1, "the listed Evicted Event");
  await waitUntil(() => server.openWatches === 6, "the pod watch and five Event watches");
  server.addEvent(
    makeEvent({ reason: "Preempted", pod: remote, message: "Preempted by ml/big on node node-b" }),
  );
  server.addEvent(makeEvent({ reason: "Pulled", pod: local }));
  server.addEvent(
    makeEvent({ reason: "Preempting", pod: local, message: "Preempted in order to admit critical pod" }),
  );
  await waitUntil(() => s.seen.length === 2, "the watched Preempting Event");
  assert.deepEqual(s.seen.map((d) => [d.eventName, d.reason, d.source]), [
    ["k8s.pod.evicted", "Evicted", "event"],
    ["k8s.pod.preempted", "Preempting", "event"],
  ]);
  await waitUntil(() => s.metrics.eventsIgnored.get("other_node") === 1, "the other node's Event counted");
  const selectors = server.requests.filter((r) => r.resource === "events").map((r) => r.query.fieldSelector);
  assert.ok(selectors.includes("involvedObject.kind=Node,involvedObject.name=node-a,reason=OOMKilling"));
  assert.ok(!selectors.some((sel) => sel.includes("Pulled")), "only the disruption reasons are asked for");
});

Deno.test("event informer reads OOMKilling Events of this node only", async () => {
  await using server = await FakeApiServer.start();
  const pod = server.addPod(makePod({ name: "trainer-4", namespace: "ml" }));
  await using s = await start(server, { events: true });
  await waitUntil(() => server.openWatches === 6, "watches open");
  const kernel = (uid: string): string =>
    `Memory cgroup out of memory: Killed process 77 (python) task_memcg=/kubepods/burstable/pod${uid}/c1`;
  server.addEvent(makeEvent({ reason: "OOMKilling", node: "node-b", message: kernel(crypto.randomUUID()) }));
  server.addEvent(makeEvent({ reason: "OOMKilling", node: "node-a", message: kernel(pod.metadata.uid) }));
  await waitUntil(() => s.seen.length === 1, "this node's OOMKilling");
  assert.equal(s.seen[0].podUid, pod.metadata.uid);
  assert.equal(s.seen[0].eventName, "k8s.container.oom_killed");
});

Deno.test("event informer waits for the pod informer to sync before its first list", async () => {
  await using server = await FakeApiServer.start({ startDown: true });
  await using s = await start(server, { events: true });
  server.up();
  await waitUntil(() => s.pods.isSynced(), "pods synced");
  await waitUntil(() => server.count("list") >= 6, "the Event lists");
  const first = server.requests.findIndex((r) => r.kind === "list");
  assert.equal(server.requests[first].resource, "pods");
});
