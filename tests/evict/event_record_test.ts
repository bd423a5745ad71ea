import assert from "node:assert/strict";
import { buildEventRecord, EvictionJoin } from "../../src/evict/mod.ts";
import { encodeLogsRequest } from "../../src/export/mod.ts";
import { decodeLogsRequest } from "../_fakes/otlp_decode.ts";
import { disruption, joinOptions, podPath, recordAt, T0, UID } from "./_join_helpers.ts";

const SCOPE = { name: "containerstdout", version: "test" };

Deno.test("event record of an OOM kill names the container and instance and carries decoded lines", () => {
  const join = new EvictionJoin(joinOptions({ maxLineBytes: 64 }));
  const first = podPath("main", 0);
  const bytes = new TextEncoder().encode("torch.OutOfMemoryError: CUDA out of memory ✗");
  join.observe(recordAt(first, T0 - 1_500, bytes, "stderr"), first, T0);
  join.observe(recordAt(first, T0 - 1_000, "x".repeat(100)), first, T0);
  join.detect(
    disruption({
      eventName: "k8s.container.oom_killed",
      reason: "OOMKilled",
      message: "Container main was OOM-killed (exit code 137)",
      source: "container_status",
      containerName: "main",
      restartCount: 0,
      timePrecisionMs: 1,
    }),
    T0,
  );
  const [event] = join.takeDue(T0 + 10_000);
  const record = buildEventRecord(event, { scope: SCOPE, nowMs: T0 + 10_000 });
  assert.equal(record.eventName, "k8s.container.oom_killed");
  assert.deepEqual(record.hrTime, [T0 / 1000, 0]);
  assert.deepEqual(record.hrTimeObserved, [T0 / 1000 + 10, 0]);
  assert.equal(record.body, "Container main was OOM-killed (exit code 137)");
  assert.deepEqual(record.resource.attributes, {
    "k8s.namespace.name": "ml",
    "k8s.pod.name": "trainer-0",
    "k8s.pod.uid": UID,
    "k8s.node.name": "node-a",
  });
  assert.deepEqual(record.attributes, {
    "k8s.pod.eviction.reason": "OOMKilled",
    "k8s.pod.eviction.source": "container_status",
    "k8s.container.name": "main",
    "k8s.container.restart_count": 0,
    "gen_ai.training.rank": 3,
    "gen_ai.training.job_id": "job-7",
    "k8s.pod.last_lines": [
      {
        "k8s.container.name": "main",
        "k8s.container.restart_count": 0,
        time: "2026-03-01T11:59:58.500000000Z",
        "log.iostream": "stderr",
        body: "torch.OutOfMemoryError: CUDA out of memory ✗",
      },
      {
        "k8s.container.name": "main",
        "k8s.container.restart_count": 0,
        time: "2026-03-01T11:59:59.000000000Z",
        "log.iostream": "stdout",
        body: "x".repeat(64),
      },
    ],
    "k8s.pod.last_lines.cut_count": 1,
  });
});

Deno.test("event record of a pod whose records were never read has the pod's identity as its resource", () => {
  const join = new EvictionJoin(joinOptions());
  join.detect(
    disruption({ eventName: "k8s.pod.preempted", reason: "PreemptionByScheduler", message: "" }),
    T0,
  );
  const [event] = join.takeDue(T0 + 10_000);
  const record = buildEventRecord(event, { scope: SCOPE, nowMs: T0 + 10_000, nodeName: "node-a" });
  assert.deepEqual(record.resource.attributes, {
    "k8s.pod.uid": UID,
    "k8s.namespace.name": "ml",
    "k8s.pod.name": "trainer-0",
    "k8s.node.name": "node-a",
  });
  assert.equal(record.body, "PreemptionByScheduler: ml/trainer-0");
  assert.deepEqual(record.attributes["k8s.pod.last_lines"], []);
  assert.equal(record.severityText, "WARN");
});

Deno.test("event record survives OTLP encoding: event_name, severity and the last lines as kvlists", () => {
  const join = new EvictionJoin(joinOptions());
  const main = podPath("main");
  join.observe(recordAt(main, T0 - 1_000, "last words"), main, T0);
  join.detect(disruption(), T0);
  const [event] = join.takeDue(T0 + 10_000);
  const record = buildEventRecord(event, { scope: SCOPE, nowMs: T0 + 10_000 });
  const [resourceLogs] = decodeLogsRequest(encodeLogsRequest([record]));
  const [decoded] = resourceLogs.scopes[0].records;
  assert.equal(decoded.eventName, "k8s.pod.evicted");
  assert.equal(decoded.severityNumber, 13);
  assert.equal(decoded.severityText, "WARN");
  assert.equal(decoded.body, "Eviction API: evicting");
  assert.deepEqual(decoded.attributes["k8s.pod.last_lines"], [{
    "k8s.container.name": "main",
    "k8s.container.restart_count": 0,
    time: "2026-03-01T11:59:59.000000000Z",
    "log.iostream": "stdout",
    body: "last words",
  }]);
  assert.equal(resourceLogs.resource["k8s.pod.uid"], UID);
});

Deno.test("event record carries a structured (JSON) body of a last line as a kvlist", () => {
  const join = new EvictionJoin(joinOptions());
  const main = podPath("main");
  const record = recordAt(main, T0 - 1_000, "");
  (record as { body: unknown }).body = { msg: "epoch done", step: 12 };
  join.observe(record, main, T0);
  join.detect(disruption(), T0);
  const [event] = join.takeDue(T0 + 10_000);
  const built = buildEventRecord(event, { scope: SCOPE, nowMs: T0 + 10_000 });
  const [line] = built.attributes["k8s.pod.last_lines"] as Array<Record<string, unknown>>;
  assert.deepEqual(line.body, { msg: "epoch done", step: 12 });
});
