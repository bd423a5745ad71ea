/**
 * The eviction join through real parts: container logs appended by a writer process, the agent with its
 * pod informer on the fake API server (TLS), and the loopback OTLP receiver decoding every record.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  FakeApiServer,
  type FakeApiServer as Api,
  type FakePod,
  makeEvent,
  makePod,
  testCerts,
} from "../_fakes/apiserver.ts";
import type { SinkRecord } from "../_fakes/otlp_sink.ts";
import { type Harness, startHarness } from "../_helpers/agent_harness.ts";
import { waitFor } from "../_helpers/agent_process.ts";
import { CriWriter } from "../_helpers/cri_writer.ts";

const REASON = "k8s.pod.eviction.reason";

interface Setup extends AsyncDisposable {
  api: Api;
  dir: string;
  root: string;
  writer: CriWriter;
  /** Starts (or restarts, on the same dir, cursor KV and sink) the agent. */
  start(eviction?: Record<string, unknown>, extra?: Record<string, unknown>): Promise<Harness>;
}

async function setup(): Promise<Setup> {
  const certs = await testCerts();
  const api = await FakeApiServer.start({ tls: true, token: "s3cret" });
  const dir = await Deno.makeTempDir({ prefix: "cso-evict-" });
  await Deno.writeTextFile(`${dir}/token`, "s3cret");
  await Deno.writeTextFile(`${dir}/ca.crt`, certs.caPem);
  const root = `${dir}/pods`;
  await Deno.mkdir(root, { recursive: true });
  const writer = CriWriter.start(root);
  const harnesses: Harness[] = [];
  return {
    api,
    dir,
    root,
    writer,
    async start(eviction = {}, extra = {}) {
      const previous = harnesses.at(-1);
      await previous?.stopAgent();
      const h = await startHarness({
        dir,
        sink: previous?.sink,
        config: {
          node_name: "node-a",
          k8s: {
            mode: "in_cluster",
            api_server: api.url,
            token_path: `${dir}/token`,
            ca_path: `${dir}/ca.crt`,
          },
          eviction: { max_wait: "300ms", ...eviction },
          ...extra,
        },
      });
      harnesses.push(h);
      await waitFor(() => h.agent.registry.health().isHealthy, {
        message: () => JSON.stringify(h.agent.registry.health()),
      });
      return h;
    },
    async [Symbol.asyncDispose]() {
      for (const h of harnesses.toReversed()) await h.stopAgent();
      await harnesses[0]?.sink.close();
      await writer[Symbol.asyncDispose]();
      await api[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function logPath(root: string, pod: FakePod, container = "main", restart = 0): string {
  const m = pod.metadata;
  return `${root}/${m.namespace}_${m.name}_${m.uid}/${container}/${restart}.log`;
}

/** A whole second a little in the past: Kubernetes times have whole seconds. */
function wholeSecondAgo(): number {
  return Math.floor(Date.now() / 1000) * 1000 - 5_000;
}

function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");
}

function withCondition(pod: FakePod, reason: string, atMs: number, message: string): FakePod {
  return {
    ...pod,
    status: {
      phase: "Running",
      conditions: [{
        type: "DisruptionTarget",
        status: "True",
        reason,
        message,
        lastTransitionTime: rfc3339(atMs),
      }],
    },
  };
}

function trainer(name: string, containers = ["main"]): FakePod {
  return makePod({
    name,
    namespace: "ml",
    labels: { "training.kubeflow.org/job-name": "llama-ft" },
    ownerReferences: [{ kind: "Job", name: "llama-ft-worker" }],
    containers: containers.map((c) => ({
      name: c,
      image: "registry.example/trainer:2.1",
      env: [{ name: "RANK", value: "2" }],
    })),
  });
}

function eventsOf(h: Harness, uid: string): SinkRecord[] {
  return h.sink.records.filter((r) => r.record.eventName !== undefined && r.resource["k8s.pod.uid"] === uid);
}

function recordByBody(h: Harness, body: string): SinkRecord {
  const found = h.sink.records.find((r) => r.record.body === body && r.record.eventName === undefined);
  assert.ok(found !== undefined, `no record with body ${body}`);
  return found;
}

function lastLineBodies(event: SinkRecord): string[] {
  return (event.record.attributes["k8s.pod.last_lines"] as Array<{ body: string }>).map((l) => l.body);
}

async function waitForBodies(h: Harness, bodies: string[]): Promise<void> {
  await waitFor(() => bodies.every((b) => h.sink.records.some((r) => r.record.body === b)), {
    message: () => `waiting for ${JSON.stringify(bodies)}; have ${h.sink.records.length} records`,
  });
}

async function waitForDetection(h: Harness, outcome: string): Promise<void> {
  const c = h.agent.metrics.evictionDetections;
  await waitFor(() =>
    c.total() > 0 && c.get("k8s.pod.evicted", "pod_condition", outcome) +
          c.get("k8s.pod.preempted", "pod_condition", outcome) +
          c.get("k8s.pod.evicted", "pod_status", outcome) > 0, {
    message: () => `no ${outcome} detection`,
  });
}

Deno.test("agent reports an Eviction API eviction with the last lines it read before the event", async () => {
  await using s = await setup();
  const pod = s.api.addPod(trainer("trainer-0", ["main", "sidecar"]));
  const h = await s.start();
  const t = wholeSecondAgo();
  await s.writer.write([
    { path: logPath(s.root, pod), time: t - 40_000, body: "outside the window" },
    { path: logPath(s.root, pod), time: t - 2_000, body: "step 1200 loss 0.25" },
    { path: logPath(s.root, pod, "sidecar"), time: t - 1_500, body: "sidecar heartbeat" },
    { path: logPath(s.root, pod), time: t + 200, stream: "stderr", body: "saving checkpoint" },
  ]);
  await waitForBodies(h, ["step 1200 loss 0.25", "sidecar heartbeat", "saving checkpoint"]);
  s.api.updatePod(withCondition(pod, "EvictionByEvictionAPI", t, "Eviction API: evicting"));
  await waitFor(() => eventsOf(h, pod.metadata.uid).length === 1, { message: () => "no event record" });

  const [event] = eventsOf(h, pod.metadata.uid);
  assert.equal(event.record.eventName, "k8s.pod.evicted");
  assert.equal(event.record.severityNumber, 13);
  assert.equal(event.record.severityText, "WARN");
  assert.equal(event.record.body, "Eviction API: evicting");
  assert.equal(event.record.timeUnixNano, BigInt(t) * 1_000_000n);
  assert.equal(event.record.attributes[REASON], "EvictionByEvictionAPI");
  assert.equal(event.record.attributes["gen_ai.training.rank"], 2);
  assert.equal(event.record.attributes["gen_ai.training.job_id"], "llama-ft");
  assert.equal(event.resource["k8s.pod.name"], "trainer-0");
  assert.equal(event.resource["k8s.job.name"], "llama-ft-worker");
  assert.equal(event.resource["k8s.container.name"], undefined);
  assert.deepEqual(lastLineBodies(event), ["step 1200 loss 0.25", "sidecar heartbeat", "saving checkpoint"]);
  const lines = event.record.attributes["k8s.pod.last_lines"] as Array<Record<string, unknown>>;
  assert.deepEqual(lines.map((l) => [l["k8s.container.name"], l["log.iostream"]]), [
    ["main", "stdout"],
    ["sidecar", "stdout"],
    ["main", "stderr"],
  ]);
});

Deno.test("agent reports a preemption seen before its last lines are read and tags those lines", async () => {
  await using s = await setup();
  const pod = s.api.addPod(trainer("trainer-1"));
  // A long max_wait: the event record waits until the file was read past the window.
  const h = await s.start({ max_wait: "60s" });
  const t = wholeSecondAgo();
  s.api.updatePod(withCondition(pod, "PreemptionByScheduler", t, "Kubernetes default scheduler: preempting"));
  await waitForDetection(h, "pending");
  await s.writer.write([
    { path: logPath(s.root, pod), time: t - 3_000, body: "all-reduce 118 ms" },
    { path: logPath(s.root, pod), time: t - 1_000, body: "step 77" },
    { path: logPath(s.root, pod), time: t + 3_000, body: "received SIGTERM" },
  ]);
  await waitFor(() => eventsOf(h, pod.metadata.uid).length === 1, { message: () => "no event record" });
  await waitForBodies(h, ["all-reduce 118 ms", "step 77", "received SIGTERM"]);

  const [event] = eventsOf(h, pod.metadata.uid);
  assert.equal(event.record.eventName, "k8s.pod.preempted");
  assert.equal(event.record.attributes[REASON], "PreemptionByScheduler");
  assert.deepEqual(lastLineBodies(event), ["all-reduce 118 ms", "step 77"]);
  assert.equal(recordByBody(h, "all-reduce 118 ms").record.attributes[REASON], "PreemptionByScheduler");
  assert.equal(recordByBody(h, "step 77").record.attributes[REASON], "PreemptionByScheduler");
  assert.equal(recordByBody(h, "received SIGTERM").record.attributes[REASON], undefined);
});

Deno.test("agent reports an OOM kill with the killed instance's lines, not the restarted 1.log's", async () => {
  await using s = await setup();
  const pod = s.api.addPod(trainer("trainer-2"));
  const h = await s.start();
  const t = wholeSecondAgo();
  await s.writer.write([
    { path: logPath(s.root, pod, "main", 0), time: t - 1_500, body: "allocating 80 GiB" },
    { path: logPath(s.root, pod, "main", 0), time: t - 500, stream: "stderr", body: "Killed" },
  ]);
  await waitForBodies(h, ["allocating 80 GiB", "Killed"]);
  await s.writer.write([{
    path: logPath(s.root, pod, "main", 1),
    time: t + 400,
    body: "restarted, resuming from step 70",
  }]);
  s.api.updatePod({
    ...pod,
    status: {
      phase: "Running",
      containerStatuses: [{
        name: "main",
        restartCount: 1,
        state: { running: { startedAt: rfc3339(t) } },
        lastState: { terminated: { reason: "OOMKilled", exitCode: 137, finishedAt: rfc3339(t) } },
      }],
    },
  });
  await waitFor(() => eventsOf(h, pod.metadata.uid).length === 1, { message: () => "no event record" });
  await waitForBodies(h, ["restarted, resuming from step 70"]);

  const [event] = eventsOf(h, pod.metadata.uid);
  assert.equal(event.record.eventName, "k8s.container.oom_killed");
  assert.equal(event.record.body, "Container main was OOM-killed (exit code 137)");
  assert.equal(event.record.attributes["k8s.container.name"], "main");
  assert.equal(event.record.attributes["k8s.container.restart_count"], 0);
  assert.deepEqual(lastLineBodies(event), ["allocating 80 GiB", "Killed"]);
  const restarted = recordByBody(h, "restarted, resuming from step 70");
  assert.equal(restarted.resource["k8s.container.restart_count"], 1);
  assert.equal(restarted.record.attributes[REASON], undefined);
});

Deno.test("agent joins a pod deleted before its last lines are read", async () => {
  await using s = await setup();
  const pod = s.api.addPod(trainer("trainer-3"));
  const h = await s.start({ max_wait: "60s" });
  const t = wholeSecondAgo();
  // The pod is gone at once; only the DELETED event's object shows why.
  s.api.deletePod(pod.metadata.uid, {
    lastState: withCondition(pod, "PreemptionByScheduler", t, "preempted"),
  });
  await waitForDetection(h, "pending");
  await s.writer.write([
    { path: logPath(s.root, pod), time: t - 1_000, body: "last step before preemption" },
    { path: logPath(s.root, pod), time: t + 2_000, body: "shutting down" },
  ]);
  await waitFor(() => eventsOf(h, pod.metadata.uid).length === 1, { message: () => "no event record" });
  await waitForBodies(h, ["last step before preemption", "shutting down"]);
  const [event] = eventsOf(h, pod.metadata.uid);
  assert.equal(event.record.eventName, "k8s.pod.preempted");
  assert.deepEqual(lastLineBodies(event), ["last step before preemption"]);
  assert.equal(event.resource["k8s.pod.name"], "trainer-3");
  assert.equal(
    recordByBody(h, "last step before preemption").record.attributes[REASON],
    "PreemptionByScheduler",
  );
});

Deno.test("agent restarted between an eviction and its last lines neither repeats the event nor loses the tag", async () => {
  await using s = await setup();
  const pod = s.api.addPod(trainer("trainer-4"));
  const t = wholeSecondAgo();
  const first = await s.start();
  s.api.updatePod({
    ...withCondition(pod, "TerminationByKubelet", t, "The node was low on resource: memory."),
    status: {
      phase: "Failed",
      reason: "Evicted",
      message: "The node was low on resource: memory.",
      conditions: [{
        type: "DisruptionTarget",
        status: "True",
        reason: "TerminationByKubelet",
        lastTransitionTime: rfc3339(t),
      }],
    },
  });
  await waitFor(() => eventsOf(first, pod.metadata.uid).length === 1, { message: () => "no event record" });
  assert.deepEqual(lastLineBodies(eventsOf(first, pod.metadata.uid)[0]), []);

  await first.stopAgent();
  await s.writer.write([{ path: logPath(s.root, pod), time: t - 800, body: "CUDA error: out of memory" }]);
  const second = await s.start();
  await waitForDetection(second, "duplicate");
  await waitForBodies(second, ["CUDA error: out of memory"]);
  await second.stopAgent();

  assert.equal(eventsOf(second, pod.metadata.uid).length, 1, "one event record across both runs");
  assert.equal(
    recordByBody(second, "CUDA error: out of memory").record.attributes[REASON],
    "TerminationByKubelet",
  );
});

Deno.test("agent with events.enabled reports a preemption only its Event tells, the pod gone without a trace", async () => {
  await using s = await setup();
  const pod = s.api.addPod(trainer("trainer-5"));
  const h = await s.start({}, { events: { enabled: true } });
  await waitFor(() => s.api.openWatches === 6, { message: () => `${s.api.openWatches} watches open` });
  const now = Date.now();
  await s.writer.write([{ path: logPath(s.root, pod), time: now - 1_000, body: "epoch 4 step 9000" }]);
  await waitForBodies(h, ["epoch 4 step 9000"]);
  // Deleted with no event (compacted away while the watch was down): only the Event says why.
  s.api.deletePod(pod.metadata.uid, { silently: true });
  s.api.addEvent(makeEvent({ reason: "Preempted", pod, message: "Preempted by ml/big-job on node node-a" }));
  await waitFor(() => eventsOf(h, pod.metadata.uid).length === 1, { message: () => "no event record" });
  const [event] = eventsOf(h, pod.metadata.uid);
  assert.equal(event.record.eventName, "k8s.pod.preempted");
  assert.equal(event.record.body, "Preempted by ml/big-job on node node-a");
  assert.equal(event.record.attributes["k8s.pod.eviction.source"], "event");
  assert.deepEqual(lastLineBodies(event), ["epoch 4 step 9000"]);
});

Deno.test("agent with eviction.enabled false sends no event record and tags nothing", async () => {
  await using s = await setup();
  const pod = s.api.addPod(trainer("trainer-6"));
  const h = await s.start({ enabled: false });
  const t = wholeSecondAgo();
  const modified = h.agent.metrics.watchEvents.get("MODIFIED");
  s.api.updatePod(withCondition(pod, "EvictionByEvictionAPI", t, "Eviction API: evicting"));
  await waitFor(() => h.agent.metrics.watchEvents.get("MODIFIED") > modified, {
    message: () => "no MODIFIED",
  });
  await s.writer.write([{ path: logPath(s.root, pod), time: t - 1_000, body: "inside the window" }]);
  await waitForBodies(h, ["inside the window"]);
  await h.stopAgent();
  assert.equal(eventsOf(h, pod.metadata.uid).length, 0);
  assert.equal(recordByBody(h, "inside the window").record.attributes[REASON], undefined);
  assert.equal(h.agent.metrics.evictionDetections.total(), 0);
});
