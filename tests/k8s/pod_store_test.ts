import assert from "node:assert/strict";
import { parsePodLogPath } from "../../src/discovery/mod.ts";
import { type PodInfo, PodStore, toPodInfo } from "../../src/k8s/mod.ts";
import type { PodLogPath } from "../../src/record.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { KindTracker } from "../../src/telemetry/kinds.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { makePod, type MakePodOptions } from "../_fakes/apiserver.ts";

const GRACE_MS = 1_000;

function setup(maxPods = 10) {
  const registry = new MetricsRegistry();
  const metrics = createAgentMetrics(registry);
  const kinds = new KindTracker({ registry });
  const clock = { nowMs: 0 };
  const store = new PodStore({
    maxPods,
    deletedPodGraceMs: GRACE_MS,
    metrics,
    kinds,
    now: () => clock.nowMs,
  });
  return { store, metrics, kinds, clock };
}

let uidCounter = 0;
function pod(options: Partial<MakePodOptions> = {}): PodInfo {
  uidCounter++;
  const uid = `00000000-0000-4000-8000-${String(uidCounter).padStart(12, "0")}`;
  const result = toPodInfo(makePod({ name: `p${uidCounter}`, uid, ...options }), {});
  assert.ok(result.ok);
  return result.value;
}

function pathOf(p: PodInfo, file = "0.log"): PodLogPath {
  const result = parsePodLogPath(`/var/log/pods/${p.namespace}_${p.name}_${p.uid}/main/${file}`);
  assert.ok(result.ok);
  return result.value;
}

Deno.test("pod store keeps the old object and version when an upsert changes nothing kept", () => {
  const { store } = setup();
  const a = pod();
  assert.equal(store.upsert(a), true);
  const version = store.version;
  const same = toPodInfo(makePod({ name: a.name, uid: a.uid }), {});
  assert.ok(same.ok);
  assert.equal(store.upsert(same.value), false);
  assert.equal(store.get(a.uid), a);
  assert.equal(store.version, version);
  const relabelled = toPodInfo(makePod({ name: a.name, uid: a.uid, labels: { x: "1" } }), {});
  assert.ok(relabelled.ok);
  assert.equal(store.upsert(relabelled.value), true);
  assert.ok(store.version > version);
  assert.equal(store.get(a.uid), relabelled.value);
});

Deno.test("pod store keeps a deleted pod while a file is open, then purges it after the grace period", () => {
  const { store, clock, metrics } = setup();
  const a = pod();
  store.upsert(a);
  store.fileOpened(pathOf(a, "0.log"));
  store.fileOpened(pathOf(a, "0.log.20240101-000000"));
  clock.nowMs = 10;
  store.markDeleted(a.uid);
  clock.nowMs = 10 * GRACE_MS;
  assert.equal(store.sweep(), 0);
  assert.equal(store.forPath(pathOf(a)), a, "still attributed while files are open");
  assert.equal(store.isDeleted(a.uid), true);
  store.fileClosed(pathOf(a, "0.log.20240101-000000"));
  store.fileClosed(pathOf(a, "0.log"));
  clock.nowMs += GRACE_MS - 1;
  assert.equal(store.sweep(), 0, "grace period counts from the last close");
  clock.nowMs += 1;
  assert.equal(store.sweep(), 1);
  assert.equal(store.get(a.uid), undefined);
  assert.equal(metrics.podsCached.get(), 0);
});

Deno.test("pod store purges a deleted pod without open files after the grace period", () => {
  const { store, clock } = setup();
  const a = pod();
  store.upsert(a);
  store.markDeleted(a.uid);
  clock.nowMs = GRACE_MS;
  assert.equal(store.sweep(), 1);
});

Deno.test("pod store finds static pods by namespace and name", () => {
  const { store } = setup();
  const mirror = pod({ name: "etcd-node-a", namespace: "kube-system" });
  store.upsert(mirror);
  const path = parsePodLogPath(
    "/var/log/pods/kube-system_etcd-node-a_0123456789abcdef0123456789abcdef/etcd/0.log",
  );
  assert.ok(path.ok && path.value.isStaticPod);
  assert.equal(store.forPath(path.value), mirror);
});

Deno.test("pod store replaceAll marks pods missing from the list deleted", () => {
  const { store, clock } = setup();
  const [a, b] = [pod(), pod()];
  store.upsert(a);
  store.upsert(b);
  store.replaceAll([b]);
  assert.deepEqual([store.isDeleted(a.uid), store.isDeleted(b.uid)], [true, false]);
  clock.nowMs = GRACE_MS;
  store.sweep();
  assert.deepEqual([store.get(a.uid), store.get(b.uid)], [undefined, b]);
});

Deno.test("pod store evicts beyond max_pods, counts it and raises AttributionCardinality until there is room", () => {
  const { store, metrics, kinds, clock } = setup(2);
  const [a, b, c] = [pod(), pod(), pod()];
  store.upsert(a);
  store.upsert(b);
  store.get(a.uid); // a is now more recent than b
  store.upsert(c);
  assert.deepEqual([store.get(a.uid), store.get(b.uid), store.get(c.uid)], [a, undefined, c]);
  assert.equal(metrics.podCacheEvictions.get(), 1);
  assert.equal(kinds.isRaised("AttributionCardinality"), true);
  assert.match(
    kinds.states().find((s) => s.kind === "AttributionCardinality")!.reason,
    /^Pod cache full: evicted default\/p\d+ \(max_pods 2\)$/,
  );
  store.markDeleted(a.uid);
  clock.nowMs = GRACE_MS;
  store.sweep();
  assert.equal(kinds.isRaised("AttributionCardinality"), false);
});
