import assert from "node:assert/strict";
import { parsePodLogPath } from "../../src/discovery/mod.ts";
import { KeyFilter, podResourceAttributes } from "../../src/enrich/mod.ts";
import { type PodInfo, toPodInfo } from "../../src/k8s/mod.ts";
import type { Attributes, PodLogPath } from "../../src/record.ts";
import { makePod, type MakePodOptions } from "../_fakes/apiserver.ts";

const UID = "0f8e6c1a-0000-4000-8000-000000000001";

function pod(options: Partial<MakePodOptions>): PodInfo {
  const result = toPodInfo(
    makePod({ name: "web-7d4b9c8f5-x2x9z", namespace: "shop", uid: UID, ...options }),
    {},
  );
  assert.ok(result.ok);
  return result.value;
}

function path(container = "main", dir = `shop_web-7d4b9c8f5-x2x9z_${UID}`): PodLogPath {
  const result = parsePodLogPath(`/var/log/pods/${dir}/${container}/1.log`);
  assert.ok(result.ok);
  return result.value;
}

function filter(entries: string[]): KeyFilter {
  const result = KeyFilter.compile(entries);
  assert.ok(result.ok);
  return result.value;
}

function attributes(p: PodInfo, labels: string[] = [], annotations: string[] = [], on = path()): Attributes {
  return podResourceAttributes(on, p, {
    nodeName: "node-from-config",
    labels: filter(labels),
    annotations: filter(annotations),
  });
}

Deno.test("pod metadata adds path attributes, the pod's node and the container image", () => {
  assert.deepEqual(attributes(pod({ nodeName: "node-a" })), {
    "k8s.namespace.name": "shop",
    "k8s.pod.name": "web-7d4b9c8f5-x2x9z",
    "k8s.container.name": "main",
    "k8s.container.restart_count": 1,
    "k8s.pod.uid": UID,
    "k8s.node.name": "node-a",
    "container.image.name": "registry.example/app",
    "container.image.tag": "1.0",
  });
});

const owners: Array<
  { name: string; owner: { kind: string; name: string }; labels?: Record<string, string>; want: Attributes }
> = [
  {
    name: "a ReplicaSet with its Deployment from the pod-template-hash label",
    owner: { kind: "ReplicaSet", name: "web-7d4b9c8f5" },
    labels: { "pod-template-hash": "7d4b9c8f5" },
    want: { "k8s.replicaset.name": "web-7d4b9c8f5", "k8s.deployment.name": "web" },
  },
  {
    name: "a ReplicaSet whose name does not end in the pod's hash (no Deployment)",
    owner: { kind: "ReplicaSet", name: "custom-rs" },
    labels: { "pod-template-hash": "7d4b9c8f5" },
    want: { "k8s.replicaset.name": "custom-rs" },
  },
  {
    name: "a ReplicaSet without the hash label, by its hash-alphabet suffix",
    owner: { kind: "ReplicaSet", name: "api-server-5c9fb7d6c8" },
    want: { "k8s.replicaset.name": "api-server-5c9fb7d6c8", "k8s.deployment.name": "api-server" },
  },
  { name: "a Job", owner: { kind: "Job", name: "train-42" }, want: { "k8s.job.name": "train-42" } },
  {
    name: "a StatefulSet",
    owner: { kind: "StatefulSet", name: "db" },
    want: { "k8s.statefulset.name": "db" },
  },
  {
    name: "a DaemonSet",
    owner: { kind: "DaemonSet", name: "agent" },
    want: { "k8s.daemonset.name": "agent" },
  },
  { name: "an unknown kind", owner: { kind: "PyTorchJob", name: "llama" }, want: {} },
]; // deno-fmt-ignore

const OWNER_KEYS = /^k8s\.(replicaset|deployment|job|statefulset|daemonset)\.name$/;

for (const c of owners) {
  Deno.test(`pod metadata names the owner for ${c.name}`, () => {
    const all = attributes(pod({ ownerReferences: [c.owner], labels: c.labels }));
    assert.deepEqual(Object.fromEntries(Object.entries(all).filter(([k]) => OWNER_KEYS.test(k))), c.want);
  });
}

const images: Array<{ image: string; name: string; tag?: string }> = [
  { image: "nginx", name: "nginx", tag: "latest" },
  { image: "nginx:1.27", name: "nginx", tag: "1.27" },
  { image: "registry:5000/team/app:v2", name: "registry:5000/team/app", tag: "v2" },
  { image: "registry:5000/team/app", name: "registry:5000/team/app", tag: "latest" },
  { image: "app@sha256:abc", name: "app" },
  { image: "app:v3@sha256:abc", name: "app", tag: "v3" },
];

for (const c of images) {
  Deno.test(`pod metadata splits image ${c.image}`, () => {
    const all = attributes(pod({ containers: [{ name: "main", image: c.image }] }));
    assert.deepEqual([all["container.image.name"], all["container.image.tag"]], [c.name, c.tag]);
  });
}

Deno.test("pod metadata finds the image of init and ephemeral containers", () => {
  const p = pod({
    initContainers: [{ name: "setup", image: "busybox:1" }],
    ephemeralContainers: [{ name: "dbg", image: "debug:2" }],
  });
  assert.equal(attributes(p, [], [], path("setup"))["container.image.tag"], "1");
  assert.equal(attributes(p, [], [], path("dbg"))["container.image.name"], "debug");
});

Deno.test("pod metadata copies only the configured labels and annotations, exact or by regex", () => {
  const p = pod({
    labels: { app: "web", "team.example.com/owner": "shop", tier: "front" },
    annotations: { "prometheus.io/scrape": "true", note: "x" },
  });
  const all = attributes(p, ["app", "/^team\\./"], ["/^prometheus\\.io\\//"]);
  const copied = Object.fromEntries(
    Object.entries(all).filter(([k]) =>
      k.startsWith("k8s.pod.label.") || k.startsWith("k8s.pod.annotation.")
    ),
  );
  assert.deepEqual(copied, {
    "k8s.pod.label.app": "web",
    "k8s.pod.label.team.example.com/owner": "shop",
    "k8s.pod.annotation.prometheus.io/scrape": "true",
  });
});

Deno.test("pod metadata gives a static pod's log the mirror pod's UID next to the config hash", () => {
  const hash = "0123456789abcdef0123456789abcdef";
  const all = attributes(
    pod({ name: "etcd-node-a", namespace: "kube-system" }),
    [],
    [],
    path("etcd", `kube-system_etcd-node-a_${hash}`),
  );
  assert.equal(all["k8s.pod.annotation.kubernetes.io/config.hash"], hash);
  assert.equal(all["k8s.pod.uid"], UID);
});

Deno.test("key filter rejects an invalid /regex/ entry", () => {
  const result = KeyFilter.compile(["app", "/([/"]);
  assert.equal(result.ok, false);
  assert.ok(!result.ok && result.reason === "bad_regex" && result.entry === "/([/");
});
