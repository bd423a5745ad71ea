import assert from "node:assert/strict";
import { type PodInfo, toPodInfo } from "../../src/k8s/mod.ts";
import { makePod } from "../_fakes/apiserver.ts";

function info(wire: unknown, options = {}): PodInfo {
  const result = toPodInfo(wire, options);
  assert.ok(result.ok, `not a pod: ${JSON.stringify(result)}`);
  return result.value;
}

const trainer = makePod({
  name: "trainer-0",
  namespace: "ml",
  uid: "0f8e6c1a-0000-4000-8000-000000000001",
  labels: { "training.kubeflow.org/replica-index": "3", team: "vision" },
  annotations: {
    "batch.kubernetes.io/job-completion-index": "3",
    "kubectl.kubernetes.io/last-applied": "{...}",
  },
  ownerReferences: [{ kind: "Job", name: "trainer" }, { kind: "Other", name: "x", controller: false }],
  containers: [{
    name: "worker",
    image: "nvcr.io/nvidia/pytorch:24.01-py3",
    env: [
      { name: "RANK", value: "7" },
      {
        name: "INDEX",
        valueFrom: {
          fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" },
        },
      },
      { name: "TEAM", valueFrom: { fieldRef: { fieldPath: "metadata.labels['team']" } } },
      { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: "MISSING", valueFrom: { fieldRef: { fieldPath: "metadata.labels['nope']" } } },
      { name: "SECRET", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
    ],
  }],
  initContainers: [{ name: "init", image: "busybox" }],
  ephemeralContainers: [{ name: "debugger", image: "debug:1" }],
}); // deno-fmt-ignore

Deno.test("pod info keeps identity, controller owner and the containers of every kind", () => {
  const pod = info(trainer);
  assert.deepEqual([pod.uid, pod.namespace, pod.name, pod.nodeName], [trainer.metadata.uid, "ml", "trainer-0", "node-a"]);
  assert.deepEqual(pod.owner, { kind: "Job", name: "trainer" });
  assert.deepEqual(Object.keys(pod.containers), ["worker", "init", "debugger"]);
  assert.equal(pod.containers.worker.image, "nvcr.io/nvidia/pytorch:24.01-py3");
});

Deno.test("pod info resolves env literals and fieldRefs to labels, annotations and pod fields", () => {
  assert.deepEqual(info(trainer).containers.worker.env, {
    RANK: "7",
    INDEX: "3",
    TEAM: "vision",
    POD: "trainer-0",
  });
});

Deno.test("pod info keeps only the labels, annotations and env vars the predicates select", () => {
  const pod = info(trainer, {
    keepLabel: (k: string) => k === "team",
    keepAnnotation: () => false,
    keepEnv: (n: string) => n === "INDEX",
  });
  assert.deepEqual(pod.labels, { team: "vision" });
  assert.deepEqual(pod.annotations, {});
  assert.deepEqual(pod.containers.worker.env, { INDEX: "3" }, "fieldRefs resolve against the untrimmed pod");
});

Deno.test("pod info fingerprint ignores fields that are not kept", () => {
  const options = { keepAnnotation: (k: string) => k !== "kubectl.kubernetes.io/last-applied" };
  const changed = structuredClone(trainer);
  changed.status = { phase: "Succeeded" };
  changed.metadata.annotations = {
    ...(trainer.metadata.annotations as Record<string, string>),
    "kubectl.kubernetes.io/last-applied": "{v2}",
  };
  changed.metadata.resourceVersion = "999";
  assert.equal(info(changed, options).fingerprint, info(trainer, options).fingerprint);
  const relabelled = structuredClone(trainer);
  relabelled.metadata.labels = { team: "nlp" };
  assert.notEqual(info(relabelled, options).fingerprint, info(trainer, options).fingerprint);
});

const failures: Array<{ name: string; wire: unknown; want: string }> = [
  { name: "null", wire: null, want: "not_an_object" },
  { name: "a string", wire: "pod", want: "not_an_object" },
  { name: "no metadata", wire: { spec: {} }, want: "missing_identity" },
  {
    name: "an empty uid",
    wire: { metadata: { uid: "", name: "a", namespace: "b" } },
    want: "missing_identity",
  },
];

for (const c of failures) {
  Deno.test(`pod info rejects ${c.name}`, () => {
    assert.deepEqual(toPodInfo(c.wire, {}), { ok: false, reason: c.want });
  });
}

Deno.test("pod info tolerates malformed optional fields", () => {
  const pod = info({
    metadata: { uid: "u", name: "n", namespace: "ns", labels: { a: 1, b: "x" }, ownerReferences: "nope" },
    spec: { containers: [null, { name: "c", env: [{ name: "E" }, null] }], initContainers: "x" },
  });
  assert.deepEqual(pod.labels, { b: "x" });
  assert.equal(pod.owner, null);
  assert.deepEqual(pod.containers, { c: { image: "", env: {} } });
});
