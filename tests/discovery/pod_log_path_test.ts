import assert from "node:assert/strict";
import fc from "fast-check";
import { parsePodLogPath, type PodLogPathFailure } from "../../src/discovery/mod.ts";
import type { PodLogPath } from "../../src/record.ts";

const UID = "0f8e1a2b-1111-2222-3333-444455556666";
const HASH = "0123456789abcdef0123456789abcdef";

type Want = Omit<PodLogPath, "path" | "containerKey">;

interface ParseCase {
  name: string;
  path: string;
  want: Want | PodLogPathFailure;
}

const CASES: ParseCase[] = [
  {
    name: "a pod with a UID",
    path: `/var/log/pods/ml_trainer-0_${UID}/worker/0.log`,
    want: {
      namespace: "ml",
      podName: "trainer-0",
      podUid: UID,
      containerName: "worker",
      restartCount: 0,
      isStaticPod: false,
    },
  },
  {
    name: "a static pod with a config hash",
    path: `/var/log/pods/kube-system_etcd-node-1_${HASH}/etcd/3.log`,
    want: {
      namespace: "kube-system",
      podName: "etcd-node-1",
      podUid: HASH,
      containerName: "etcd",
      restartCount: 3,
      isStaticPod: true,
    },
  },
  {
    name: "a restart count with several digits",
    path: `/var/log/pods/ml_trainer-0_${UID}/worker/142.log`,
    want: {
      namespace: "ml",
      podName: "trainer-0",
      podUid: UID,
      containerName: "worker",
      restartCount: 142,
      isStaticPod: false,
    },
  },
  {
    name: "a rotated file name",
    path: `/var/log/pods/ml_trainer-0_${UID}/worker/0.log.20240101-120000`,
    want: {
      namespace: "ml",
      podName: "trainer-0",
      podUid: UID,
      containerName: "worker",
      restartCount: 0,
      isStaticPod: false,
    },
  },
  {
    name: "a rotated file name with a sub-second suffix",
    path: `/var/log/pods/ml_trainer-0_${UID}/worker/2.log.20240101-120000.123`,
    want: {
      namespace: "ml",
      podName: "trainer-0",
      podUid: UID,
      containerName: "worker",
      restartCount: 2,
      isStaticPod: false,
    },
  },
  {
    name: "namespaces and pod names with dashes and dots",
    path: `/var/log/pods/team-a.prod_web.v2-7d9f8-x2k4p_${UID}/istio-proxy/1.log`,
    want: {
      namespace: "team-a.prod",
      podName: "web.v2-7d9f8-x2k4p",
      podUid: UID,
      containerName: "istio-proxy",
      restartCount: 1,
      isStaticPod: false,
    },
  },
  {
    name: "an uppercase hash (not a kubelet config hash)",
    path: `/var/log/pods/kube-system_etcd_${HASH.toUpperCase()}/etcd/0.log`,
    want: {
      namespace: "kube-system",
      podName: "etcd",
      podUid: HASH.toUpperCase(),
      containerName: "etcd",
      restartCount: 0,
      isStaticPod: false,
    },
  },
  {
    name: "a relative path with exactly three parts",
    path: `ml_trainer-0_${UID}/worker/0.log`,
    want: {
      namespace: "ml",
      podName: "trainer-0",
      podUid: UID,
      containerName: "worker",
      restartCount: 0,
      isStaticPod: false,
    },
  },
  { name: "a path with two parts", path: "worker/0.log", want: "too_short" },
  { name: "a bare file name", path: "0.log", want: "too_short" },
  {
    name: "a pod directory without underscores",
    path: `/var/log/pods/mltrainer/worker/0.log`,
    want: "bad_pod_dir",
  },
  {
    name: "a pod directory with one underscore",
    path: `/var/log/pods/ml_${UID}/worker/0.log`,
    want: "bad_pod_dir",
  },
  { name: "an empty namespace", path: `/var/log/pods/_trainer_${UID}/worker/0.log`, want: "bad_pod_dir" },
  { name: "an empty pod name", path: `/var/log/pods/ml__${UID}/worker/0.log`, want: "bad_pod_dir" },
  { name: "an empty UID", path: `/var/log/pods/ml_trainer_/worker/0.log`, want: "bad_pod_dir" },
  {
    name: "a gzipped rotated file",
    path: `/var/log/pods/ml_t_${UID}/worker/0.log.20240101-120000.gz`,
    want: "bad_file_name",
  },
  {
    name: "a file name without a restart count",
    path: `/var/log/pods/ml_t_${UID}/worker/x.log`,
    want: "bad_file_name",
  },
  {
    name: "a negative restart count",
    path: `/var/log/pods/ml_t_${UID}/worker/-1.log`,
    want: "bad_file_name",
  },
  {
    name: "a malformed rotation stamp",
    path: `/var/log/pods/ml_t_${UID}/worker/0.log.2024-01-01`,
    want: "bad_file_name",
  },
  { name: "a temporary file", path: `/var/log/pods/ml_t_${UID}/worker/0.log.tmp`, want: "bad_file_name" },
  { name: "an empty container name", path: `/var/log/pods/ml_t_${UID}//0.log`, want: "bad_file_name" },
];

for (const { name, path, want } of CASES) {
  Deno.test(`parsePodLogPath reads ${name}`, () => {
    const result = parsePodLogPath(path);
    if (typeof want === "string") {
      assert.deepEqual(result, { ok: false, reason: want });
      return;
    }
    assert.ok(result.ok, `expected ${path} to parse`);
    const parts = path.split("/");
    const containerKey = `${parts[parts.length - 3]}/${want.containerName}`;
    assert.deepEqual(result.value, { ...want, path, containerKey });
  });
}

Deno.test("parsePodLogPath round-trips any DNS-1123 namespace, pod, container and restart count", () => {
  const label = fc.stringMatching(/^[a-z0-9]([a-z0-9.-]{0,30}[a-z0-9])?$/);
  const pinned = Deno.env.get("FC_SEED");
  const seed = pinned === undefined ? (Math.random() * 2 ** 31) | 0 : Number(pinned);
  try {
    fc.assert(
      fc.property(
        label,
        label,
        label,
        fc.nat({ max: 10_000 }),
        fc.boolean(),
        (ns, pod, ctr, restarts, isStatic) => {
          const uid = isStatic ? HASH : UID;
          const path = `/var/log/pods/${ns}_${pod}_${uid}/${ctr}/${restarts}.log`;
          const result = parsePodLogPath(path);
          assert.ok(result.ok, path);
          assert.equal(result.value.namespace, ns);
          assert.equal(result.value.podName, pod);
          assert.equal(result.value.podUid, uid);
          assert.equal(result.value.containerName, ctr);
          assert.equal(result.value.restartCount, restarts);
          assert.equal(result.value.isStaticPod, isStatic);
        },
      ),
      { seed, numRuns: 500 },
    );
  } catch (thrown) {
    console.error(`Property failed with seed ${seed} (replay: FC_SEED=${seed})`);
    throw thrown;
  }
});

Deno.test("parsePodLogPath returns a result for any string without throwing", () => {
  const pinned = Deno.env.get("FC_SEED");
  const seed = pinned === undefined ? (Math.random() * 2 ** 31) | 0 : Number(pinned);
  try {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom("/", "_", "a", "0", ".", "l", "o", "g", "-") }),
        (path) => {
          const result = parsePodLogPath(path);
          assert.equal(typeof result.ok, "boolean");
        },
      ),
      { seed, numRuns: 1000 },
    );
  } catch (thrown) {
    console.error(`Property failed with seed ${seed} (replay: FC_SEED=${seed})`);
    throw thrown;
  }
});
