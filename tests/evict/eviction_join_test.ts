import assert from "node:assert/strict";
import { type EvictionEvent, EvictionJoin } from "../../src/evict/mod.ts";
import { disruption, joinOptions, podPath, recordAt, T0, UID } from "./_join_helpers.ts";

function bodies(event: EvictionEvent): string[] {
  return event.lines.map((l) => `${l.containerName}/${l.restartCount}: ${l.body}`);
}

Deno.test("eviction join carries the lines read before the event, inside the window only", () => {
  const join = new EvictionJoin(joinOptions());
  const main = podPath("main");
  const side = podPath("sidecar");
  join.observe(recordAt(main, T0 - 40_000, "too old"), main, T0 - 40_000);
  join.observe(recordAt(main, T0 - 2_000, "step 99 loss 1.2"), main, T0 - 2_000);
  join.observe(recordAt(side, T0 - 1_500, "sidecar alive"), side, T0 - 1_500);
  join.observe(recordAt(main, T0 + 500, "same second as the condition"), main, T0 + 500);

  assert.equal(join.detect(disruption(), T0 + 1_000), "pending");
  assert.deepEqual(join.takeDue(T0 + 1_000), [], "waits for max_wait");
  const [event] = join.takeDue(T0 + 6_000);
  assert.deepEqual(bodies(event), [
    "main/0: step 99 loss 1.2",
    "sidecar/0: sidecar alive",
    "main/0: same second as the condition",
  ]);
  assert.equal(event.context?.attributes["gen_ai.training.rank"], 3);
  assert.equal(join.pendingCount, 0);
});

Deno.test("eviction join carries lines read after the event arrived, and tags them", () => {
  const join = new EvictionJoin(joinOptions());
  const main = podPath("main");
  assert.equal(join.detect(disruption(), T0 + 100), "pending");
  const late = [
    join.observe(recordAt(main, T0 - 3_000, "last checkpoint saved"), main, T0 + 200),
    join.observe(recordAt(main, T0 - 1_000, "CUDA error: out of memory"), main, T0 + 300),
    join.observe(recordAt(main, T0 - 60_000, "before the window"), main, T0 + 300),
  ];
  assert.deepEqual(late, ["EvictionByEvictionAPI", "EvictionByEvictionAPI", null]);
  const [event] = join.takeDue(T0 + 5_100);
  assert.deepEqual(bodies(event), [
    "main/0: last checkpoint saved",
    "main/0: CUDA error: out of memory",
  ]);
});

Deno.test("eviction join emits early once every file of the pod was read past the window", () => {
  const join = new EvictionJoin(joinOptions());
  const main = podPath("main");
  join.observe(recordAt(main, T0 - 1_000, "working"), main, T0);
  join.detect(disruption(), T0);
  assert.equal(join.hasNewCatchUp, false);
  const tag = join.observe(recordAt(main, T0 + 2_000, "received SIGTERM"), main, T0 + 50);
  assert.equal(tag, null, "a line after the window is not tagged");
  assert.equal(join.hasNewCatchUp, true);
  const [event] = join.takeDue(T0 + 60);
  assert.deepEqual(bodies(event), ["main/0: working"]);
});

Deno.test("eviction join tags records read after the event was emitted", () => {
  const join = new EvictionJoin(joinOptions());
  const main = podPath("main");
  join.detect(disruption(), T0);
  assert.equal(join.takeDue(T0 + 5_000).length, 1);
  const tag = join.observe(recordAt(main, T0 - 500, "very late reader"), main, T0 + 90_000);
  assert.equal(tag, "EvictionByEvictionAPI");
});

Deno.test("eviction join holds for a pod whose object is already deleted", () => {
  // The detection comes from the DELETED object (or an Event) and names the pod only by UID: the lines
  // remembered for that UID still join, and the pod's resource comes from its records.
  const join = new EvictionJoin(joinOptions());
  const main = podPath("main");
  join.observe(recordAt(main, T0 - 1_000, "goodbye"), main, T0 - 1_000);
  join.detect(disruption({ reason: "Preempted", source: "event", namespace: "", podName: "" }), T0 + 10);
  const [event] = join.takeDue(T0 + 10_000);
  assert.deepEqual(bodies(event), ["main/0: goodbye"]);
  assert.equal(event.context?.resource.attributes["k8s.pod.name"], "trainer-0");
});

Deno.test("eviction join does not emit the same pod UID and event twice, from any source", () => {
  const join = new EvictionJoin(joinOptions());
  assert.equal(join.detect(disruption({ message: "" }), T0), "pending");
  assert.equal(
    join.detect(disruption({ source: "pod_status", reason: "Evicted", message: "low memory" }), T0),
    "merged",
  );
  assert.equal(join.detect(disruption({ source: "event", reason: "Evicted" }), T0), "duplicate");
  const [event] = join.takeDue(T0 + 5_000);
  assert.equal(event.disruption.message, "low memory");
  assert.equal(join.detect(disruption(), T0 + 6_000), "duplicate");
  assert.deepEqual(join.takeDue(T0 + 60_000), []);
});

Deno.test("eviction join restored after a restart neither emits again nor stops tagging", () => {
  const before = new EvictionJoin(joinOptions());
  before.detect(disruption(), T0);
  const [event] = before.takeDue(T0 + 5_000);

  const after = new EvictionJoin(joinOptions());
  after.restore([event.key], T0 + 30_000);
  assert.equal(
    after.detect(disruption({ source: "pod_status", reason: "Evicted" }), T0 + 31_000),
    "duplicate",
  );
  assert.deepEqual(after.takeDue(T0 + 60_000), []);
  const main = podPath("main");
  assert.equal(
    after.observe(recordAt(main, T0 - 100, "read after restart"), main, T0 + 61_000),
    "EvictionByEvictionAPI",
  );
});

Deno.test("eviction join forgets restored keys older than the dedup TTL", () => {
  const before = new EvictionJoin(joinOptions({ dedupTtlMs: 60_000 }));
  before.detect(disruption(), T0);
  const [event] = before.takeDue(T0 + 5_000);
  const after = new EvictionJoin(joinOptions({ dedupTtlMs: 60_000 }));
  after.restore([event.key], T0 + 120_000);
  assert.equal(after.keyCount, 0);
  assert.equal(
    after.detect(disruption(), T0 + 120_000),
    "stale",
    "a disruption older than the TTL is ignored",
  );
});

Deno.test("eviction join joins an OOM kill with the killed instance's lines, not the restarted one's", () => {
  const join = new EvictionJoin(joinOptions());
  const first = podPath("main", 0);
  const second = podPath("main", 1);
  const side = podPath("sidecar", 0);
  const killedAt = T0;
  join.observe(recordAt(first, killedAt - 900, "allocating 80 GiB"), first, killedAt);
  join.observe(recordAt(side, killedAt - 800, "sidecar ok"), side, killedAt);
  // The container restarts into 1.log; its first lines fall inside the window of the kill.
  join.observe(recordAt(second, killedAt - 100, "restarted (clock skew)"), second, killedAt + 5);
  const oom = disruption({
    eventName: "k8s.container.oom_killed",
    reason: "OOMKilled",
    source: "container_status",
    containerName: "main",
    restartCount: 0,
    timePrecisionMs: 1,
  });
  assert.equal(join.detect(oom, killedAt + 2_000), "pending");
  const [event] = join.takeDue(killedAt + 7_000);
  assert.deepEqual(bodies(event), ["main/0: allocating 80 GiB", "sidecar/0: sidecar ok"]);
  const later = join.observe(
    recordAt(second, killedAt - 50, "1.log line"),
    second,
    killedAt + 8_000,
  );
  assert.equal(later, null, "the new instance's records are not tagged with the old instance's kill");
  const killedLate = join.observe(
    recordAt(first, killedAt - 10, "0.log tail"),
    first,
    killedAt + 8_000,
  );
  assert.equal(killedLate, "OOMKilled");
  // The next OOM kill of the restarted instance is a new disruption.
  assert.equal(
    join.detect({ ...oom, restartCount: 1, timeMs: killedAt + 60_000 }, killedAt + 61_000),
    "pending",
  );
});

Deno.test("eviction join lets a container-level OOM kill replace a pending one known only from an Event", () => {
  const join = new EvictionJoin(joinOptions());
  const fromEvent = disruption({
    eventName: "k8s.container.oom_killed",
    reason: "OOMKilling",
    source: "event",
    namespace: "",
    podName: "",
  });
  assert.equal(join.detect(fromEvent, T0 + 100), "pending");
  const fromStatus = disruption({
    eventName: "k8s.container.oom_killed",
    reason: "OOMKilled",
    source: "container_status",
    containerName: "main",
    restartCount: 0,
    timeMs: T0 + 400,
  });
  assert.equal(join.detect(fromStatus, T0 + 200), "pending");
  const events = join.takeDue(T0 + 10_000);
  assert.deepEqual(events.map((e) => e.key.key), [`${UID}|k8s.container.oom_killed|main|0`]);
  assert.equal(join.detect(fromEvent, T0 + 10_500), "duplicate");
});

Deno.test("eviction join takes every pending detection at shutdown", () => {
  const join = new EvictionJoin(joinOptions());
  join.detect(disruption(), T0);
  join.detect(disruption({ podUid: "other-uid" }), T0);
  assert.equal(join.takeAll(T0 + 1).length, 2);
  assert.equal(join.pendingCount, 0);
  assert.equal(join.nextDueMs(), null);
});

Deno.test("eviction join keeps at most max_keys keys, forgetting the oldest emitted first", () => {
  const join = new EvictionJoin(joinOptions({ maxKeys: 3 }));
  for (let i = 0; i < 5; i++) {
    join.detect(disruption({ podUid: `uid-${i}` }), T0 + i);
    join.takeDue(T0 + i + 5_000);
  }
  assert.equal(join.keyCount, 3);
  assert.equal(join.detect(disruption({ podUid: "uid-4" }), T0 + 10_000), "duplicate");
  assert.equal(join.detect(disruption({ podUid: "uid-0" }), T0 + 10_000), "pending");
});
