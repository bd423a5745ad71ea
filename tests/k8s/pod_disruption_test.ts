import assert from "node:assert/strict";
import { detectEventDisruption, detectPodDisruptions, type Disruption } from "../../src/k8s/mod.ts";
import { makeEvent, makePod } from "../_fakes/apiserver.ts";

const UID = "0b0e7f62-5d4f-4c1e-9a57-2f5c3c1d9e01";

function pod(status: Record<string, unknown>): unknown {
  const p = makePod({ name: "trainer-0", namespace: "ml", uid: UID });
  return { ...p, status: { phase: "Running", ...status } };
}

type Want = Pick<Disruption, "eventName" | "reason" | "source" | "containerName" | "restartCount" | "timeMs">;

const POD_CASES: { name: string; wire: unknown; want: Array<Want & { message?: string }> }[] = [
  {
    name: "a pod evicted by the kubelet (status.reason Evicted) with the container's finish time",
    wire: pod({
      phase: "Failed",
      reason: "Evicted",
      message: "The node was low on resource: memory.",
      containerStatuses: [{
        name: "main",
        restartCount: 0,
        state: { terminated: { reason: "Error", exitCode: 137, finishedAt: "2026-01-02T03:04:05Z" } },
      }],
    }),
    want: [{
      eventName: "k8s.pod.evicted",
      reason: "Evicted",
      source: "pod_status",
      containerName: null,
      restartCount: null,
      timeMs: Date.parse("2026-01-02T03:04:05Z"),
      message: "The node was low on resource: memory.",
    }],
  },
  ...[
    ["EvictionByEvictionAPI", "k8s.pod.evicted"],
    ["PreemptionByScheduler", "k8s.pod.preempted"],
    ["DeletionByTaintManager", "k8s.pod.evicted"],
    ["TerminationByKubelet", "k8s.pod.evicted"],
  ].map(([reason, eventName]) => ({
    name: `a DisruptionTarget=True condition with reason ${reason}`,
    wire: pod({
      conditions: [
        { type: "Ready", status: "True" },
        {
          type: "DisruptionTarget",
          status: "True",
          reason,
          message: `${reason} message`,
          lastTransitionTime: "2026-01-02T03:04:05Z",
        },
      ],
    }),
    want: [{
      eventName: eventName as Disruption["eventName"],
      reason,
      source: "pod_condition" as const,
      containerName: null,
      restartCount: null,
      timeMs: Date.parse("2026-01-02T03:04:05Z"),
      message: `${reason} message`,
    }],
  })),
  {
    name: "a DisruptionTarget condition that is False",
    wire: pod({
      conditions: [{ type: "DisruptionTarget", status: "False", reason: "PreemptionByScheduler" }],
    }),
    want: [],
  },
  {
    name: "a container restarted after an OOM kill (lastState, instance restartCount - 1)",
    wire: pod({
      containerStatuses: [{
        name: "main",
        restartCount: 1,
        state: { running: {} },
        lastState: { terminated: { reason: "OOMKilled", exitCode: 137, finishedAt: "2026-01-02T03:04:05Z" } },
      }],
    }),
    want: [{
      eventName: "k8s.container.oom_killed",
      reason: "OOMKilled",
      source: "container_status",
      containerName: "main",
      restartCount: 0,
      timeMs: Date.parse("2026-01-02T03:04:05Z"),
      message: "Container main was OOM-killed (exit code 137)",
    }],
  },
  {
    name: "a container OOM-killed and not restarted yet (state, instance restartCount)",
    wire: pod({
      initContainerStatuses: [{
        name: "fetch",
        restartCount: 2,
        state: { terminated: { reason: "OOMKilled", finishedAt: "2026-01-02T03:04:05.250Z" } },
      }],
    }),
    want: [{
      eventName: "k8s.container.oom_killed",
      reason: "OOMKilled",
      source: "container_status",
      containerName: "fetch",
      restartCount: 2,
      timeMs: Date.parse("2026-01-02T03:04:05.250Z"),
    }],
  },
  {
    name: "a container that exited with an error (not an OOM kill)",
    wire: pod({
      containerStatuses: [{ name: "main", restartCount: 1, lastState: { terminated: { reason: "Error" } } }],
    }),
    want: [],
  },
  { name: "a running pod", wire: pod({}), want: [] },
  { name: "a pod without a status", wire: { metadata: { uid: UID, name: "p", namespace: "ns" } }, want: [] },
  { name: "an object without identity", wire: { status: { reason: "Evicted" } }, want: [] },
  { name: "not an object", wire: "Evicted", want: [] },
];

for (const { name, wire, want } of POD_CASES) {
  Deno.test(`detectPodDisruptions finds ${name}`, () => {
    const got = detectPodDisruptions(wire);
    assert.deepEqual(
      got.map((d) => ({
        eventName: d.eventName,
        reason: d.reason,
        source: d.source,
        containerName: d.containerName,
        restartCount: d.restartCount,
        timeMs: d.timeMs,
      })),
      want.map(({ message: _m, ...w }) => w),
    );
    for (const [i, w] of want.entries()) {
      if (w.message !== undefined) assert.equal(got[i].message, w.message);
      assert.equal(got[i].podUid, UID);
      assert.equal(got[i].namespace, "ml");
    }
  });
}

Deno.test("detectPodDisruptions gives whole-second times a precision of one second", () => {
  const [whole] = detectPodDisruptions(pod({
    conditions: [{
      type: "DisruptionTarget",
      status: "True",
      reason: "X",
      lastTransitionTime: "2026-01-02T03:04:05Z",
    }],
  }));
  const [fraction] = detectPodDisruptions(pod({
    containerStatuses: [{
      name: "main",
      restartCount: 0,
      state: { terminated: { reason: "OOMKilled", finishedAt: "2026-01-02T03:04:05.5Z" } },
    }],
  }));
  assert.equal(whole.timePrecisionMs, 1000);
  assert.equal(fraction.timePrecisionMs, 1);
});

const victim = makePod({ name: "trainer-1", namespace: "ml", uid: UID });

const EVENT_CASES: {
  name: string;
  wire: unknown;
  want: { eventName: Disruption["eventName"]; podUid: string } | { ignored: string };
}[] = [
  {
    name: "an Evicted Event on a pod",
    wire: makeEvent({ reason: "Evicted", pod: victim, message: "The node was low on resource: memory." }),
    want: { eventName: "k8s.pod.evicted", podUid: UID },
  },
  {
    name: "a Preempted Event (scheduler) on a pod",
    wire: makeEvent({ reason: "Preempted", pod: victim, message: "Preempted by ml/big on node node-a" }),
    want: { eventName: "k8s.pod.preempted", podUid: UID },
  },
  {
    name: "a Preempting Event (kubelet critical pod admission) on a pod",
    wire: makeEvent({
      reason: "Preempting",
      pod: victim,
      message: "Preempted in order to admit critical pod",
    }),
    want: { eventName: "k8s.pod.preempted", podUid: UID },
  },
  {
    name: "an OOMKilling node Event whose kernel message names the pod's cgroup",
    wire: makeEvent({
      reason: "OOMKilling",
      node: "node-a",
      message: "Memory cgroup out of memory: Killed process 4242 (python) " +
        `task_memcg=/kubepods/burstable/pod${UID}/abc`,
    }),
    want: { eventName: "k8s.container.oom_killed", podUid: UID },
  },
  {
    name: "an OOMKilling Event with a systemd cgroup name",
    wire: makeEvent({
      reason: "OOMKilling",
      node: "node-a",
      message: `oom-kill: task_memcg=/kubepods.slice/kubepods-pod${UID.replaceAll("-", "_")}.slice/cri-x`,
    }),
    want: { eventName: "k8s.container.oom_killed", podUid: UID },
  },
  {
    name: "an OOMKilling Event that names no pod",
    wire: makeEvent({ reason: "OOMKilling", node: "node-a", message: "Killed process 4242 (python)" }),
    want: { ignored: "no_pod" },
  },
  {
    name: "a Killing Event that gives no cause",
    wire: makeEvent({ reason: "Killing", pod: victim, message: "Stopping container main" }),
    want: { ignored: "killing_without_cause" },
  },
  {
    name: "a Killing Event that says the pod is preempted",
    wire: makeEvent({ reason: "Killing", pod: victim, message: "Stopping container main: preempted" }),
    want: { eventName: "k8s.pod.preempted", podUid: UID },
  },
  {
    name: "an Event with another reason",
    wire: makeEvent({ reason: "Pulled", pod: victim }),
    want: { ignored: "other_reason" },
  },
  {
    name: "an Evicted Event on a Node",
    wire: makeEvent({ reason: "Evicted", node: "node-a" }),
    want: { ignored: "no_pod" },
  },
  { name: "not an object", wire: null, want: { ignored: "not_an_event" } },
];

for (const { name, wire, want } of EVENT_CASES) {
  Deno.test(`detectEventDisruption reads ${name}`, () => {
    const got = detectEventDisruption(wire);
    if ("ignored" in want) {
      assert.deepEqual(got, { ok: false, reason: want.ignored });
      return;
    }
    assert.ok(got.ok, JSON.stringify(got));
    assert.equal(got.value.eventName, want.eventName);
    assert.equal(got.value.podUid, want.podUid);
    assert.equal(got.value.source, "event");
    assert.equal(got.value.containerName, null);
    assert.ok(got.value.timeMs !== null);
  });
}
