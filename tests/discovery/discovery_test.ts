import assert from "node:assert/strict";
import { Discovery, type DiscoveryOptions } from "../../src/discovery/mod.ts";
import { type AgentMetrics, createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { Logger } from "../../src/telemetry/log.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { waitFor } from "../_helpers/agent_process.ts";

const UID_A = "0f8e1a2b-1111-2222-3333-444455556666";
const UID_B = "1f8e1a2b-1111-2222-3333-444455556666";
const UID_C = "2f8e1a2b-1111-2222-3333-444455556666";

const TRAINER = `ml_trainer-0_${UID_A}/worker`;
const DNS = `kube-system_coredns-5d7_${UID_B}/coredns`;
const DEV_APP = `team-dev_web.v2_${UID_C}/app`;

/** Files of the test tree, relative to its root, with their content. */
const TREE: Record<string, string> = {
  [`${TRAINER}/0.log`]: "first\n",
  [`${TRAINER}/1.log`]: "restarted once, longer\n",
  [`${TRAINER}/0.log.20240101-120000`]: "rotated\n",
  [`${TRAINER}/0.log.20231231-110000.gz`]: "gzipped",
  [`${TRAINER}/notes.txt`]: "not a log",
  [`${DNS}/0.log`]: "dns\n",
  [`${DEV_APP}/0.log`]: "",
  ["stray.log"]: "right under the root",
};

interface TestTree extends AsyncDisposable {
  root: string;
}

async function makeTree(): Promise<TestTree> {
  const root = await Deno.makeTempDir({ prefix: "discovery_test_" });
  for (const [rel, content] of Object.entries(TREE)) {
    await Deno.mkdir(`${root}/${rel.slice(0, rel.lastIndexOf("/") + 1)}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${rel}`, content);
  }
  // A directory whose name matches `*.log` must never be reported as a file.
  await Deno.mkdir(`${root}/${TRAINER}/2.log`);
  await Deno.writeTextFile(`${root}/${TRAINER}/2.log/inner.log`, "inside a directory named like a log\n");
  return { root, [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }) };
}

interface Harness {
  discovery: Discovery;
  metrics: AgentMetrics;
  logs: string[];
}

function harness(options: Partial<DiscoveryOptions> & { include: string[] }): Harness {
  const metrics = createAgentMetrics(new MetricsRegistry());
  const logs: string[] = [];
  const discovery = new Discovery({
    exclude: [],
    namespacesInclude: [],
    namespacesExclude: [],
    metrics,
    logger: new Logger({ write: (line) => logs.push(line) }),
    ...options,
  });
  return { discovery, metrics, logs };
}

interface ScanCase {
  name: string;
  /** Globs relative to the tree root (prefixed with it). */
  include: string[];
  exclude?: string[];
  namespacesInclude?: string[];
  namespacesExclude?: string[];
  want: string[];
}

const DEFAULT = "*/*/*.log";

const SCAN_CASES: ScanCase[] = [
  {
    name: "the default layout finds current container logs only",
    include: [DEFAULT],
    want: [`${TRAINER}/0.log`, `${TRAINER}/1.log`, `${DNS}/0.log`, `${DEV_APP}/0.log`],
  },
  {
    name: "an exclude pattern removes whole paths",
    include: [DEFAULT],
    exclude: ["kube-system_*/*/*.log", "*/*/1.log"],
    want: [`${TRAINER}/0.log`, `${DEV_APP}/0.log`],
  },
  {
    name: "a trailing `**` exclude removes everything below a pod directory",
    include: [DEFAULT],
    exclude: ["ml_trainer-0_*/**"],
    want: [`${DNS}/0.log`, `${DEV_APP}/0.log`],
  },
  {
    name: "namespace includes keep only matching namespaces",
    include: [DEFAULT],
    namespacesInclude: ["ml", "team-*"],
    want: [`${TRAINER}/0.log`, `${TRAINER}/1.log`, `${DEV_APP}/0.log`],
  },
  {
    name: "namespace excludes win over includes",
    include: [DEFAULT],
    namespacesInclude: ["*"],
    namespacesExclude: ["kube-*", "*-dev"],
    want: [`${TRAINER}/0.log`, `${TRAINER}/1.log`],
  },
  {
    name: "a recursive include finds logs at any depth but never directories",
    include: ["**/*.log"],
    namespacesExclude: ["kube-system"],
    want: [
      `${TRAINER}/0.log`,
      `${TRAINER}/1.log`,
      `${TRAINER}/2.log/inner.log`,
      `${DEV_APP}/0.log`,
      "stray.log",
    ],
  },
  {
    name: "a `**` before two segments also matches no directory",
    include: ["kube-system_*/**/coredns/*.log", "ml_*/**/worker/0.log"],
    want: [`${DNS}/0.log`, `${TRAINER}/0.log`],
  },
  {
    name: "overlapping includes report each file once",
    include: [DEFAULT, "ml_*/worker/0.log"],
    namespacesInclude: ["ml"],
    want: [`${TRAINER}/0.log`, `${TRAINER}/1.log`],
  },
  { name: "a missing root finds nothing", include: ["missing/*/*/*.log"], want: [] },
];

for (const c of SCAN_CASES) {
  Deno.test(`discovery scan: ${c.name}`, async () => {
    await using tree = await makeTree();
    const prefix = (p: string): string => `${tree.root}/${p}`;
    const { discovery, metrics } = harness({
      include: c.include.map(prefix),
      exclude: (c.exclude ?? []).map(prefix),
      namespacesInclude: c.namespacesInclude ?? [],
      namespacesExclude: c.namespacesExclude ?? [],
    });
    const found = discovery.scan().map((f) => f.path.slice(tree.root.length + 1)).sort();
    assert.deepEqual(found, [...c.want].sort());
    assert.equal(metrics.readErrors.total(), 0);
  });
}

Deno.test("discovery scan reports each file's dev, inode, size and mtime", async () => {
  await using tree = await makeTree();
  const { discovery } = harness({ include: [`${tree.root}/${DEFAULT}`] });
  const found = discovery.scan();
  assert.equal(found.length, 4);
  for (const f of found) {
    const info = Deno.statSync(f.path);
    assert.deepEqual(f, {
      path: f.path,
      dev: info.dev,
      ino: info.ino,
      sizeBytes: info.size,
      mtimeMs: info.mtime?.getTime(),
    });
  }
  const byPath = new Map(found.map((f) => [f.path, f]));
  assert.equal(byPath.get(`${tree.root}/${TRAINER}/1.log`)?.sizeBytes, TREE[`${TRAINER}/1.log`].length);
  assert.equal(byPath.get(`${tree.root}/${DEV_APP}/0.log`)?.sizeBytes, 0);
});

Deno.test("discovery roots are the static prefixes of the include globs, once each", () => {
  const { discovery } = harness({
    include: ["/var/log/pods/*/*/*.log", "/var/log/pods/**/*.log", "/srv/x/*.log"],
  });
  assert.deepEqual(discovery.roots(), ["/var/log/pods", "/srv/x"]);
});

Deno.test("discovery rotatedSiblings lists N.log.<timestamp> files but not gzipped ones", async () => {
  await using tree = await makeTree();
  await Deno.writeTextFile(`${tree.root}/${TRAINER}/3.log.20240101-120000.5`, "sub-second stamp\n");
  await Deno.mkdir(`${tree.root}/${TRAINER}/4.log.20240101-120000`);
  const { discovery } = harness({ include: [`${tree.root}/${DEFAULT}`] });
  const siblings = discovery.rotatedSiblings(`${tree.root}/${TRAINER}`);
  const names = siblings.map((f) => f.path.slice(f.path.lastIndexOf("/") + 1)).sort();
  assert.deepEqual(names, ["0.log.20240101-120000", "3.log.20240101-120000.5"]);
  const rotated = siblings.find((f) => f.path.endsWith("0.log.20240101-120000"))!;
  assert.equal(rotated.ino, Deno.statSync(rotated.path).ino);
  assert.equal(rotated.sizeBytes, TREE[`${TRAINER}/0.log.20240101-120000`].length);
});

Deno.test("discovery rotatedSiblings of a vanished directory is empty and not a read error", async () => {
  await using tree = await makeTree();
  const { discovery, metrics } = harness({ include: [`${tree.root}/${DEFAULT}`] });
  assert.deepEqual(discovery.rotatedSiblings(`${tree.root}/gone_pod_${UID_A}/worker`), []);
  assert.equal(metrics.readErrors.total(), 0);
});

Deno.test("discovery isWanted keeps paths it cannot parse when namespaces are filtered", () => {
  const { discovery } = harness({ include: ["/var/log/pods/*/*/*.log"], namespacesInclude: ["ml"] });
  assert.equal(discovery.isWanted(`/var/log/pods/ml_trainer_${UID_A}/worker/0.log`), true);
  assert.equal(discovery.isWanted(`/var/log/pods/other_trainer_${UID_A}/worker/0.log`), false);
  assert.equal(discovery.isWanted("/var/log/custom/app.log"), true);
});

Deno.test("discovery watch wakes on a write under the root and stops cleanly on abort", async () => {
  await using tree = await makeTree();
  const { discovery } = harness({ include: [`${tree.root}/${DEFAULT}`], watcherRetryMs: 10 });
  const woken: string[][] = [];
  const abort = new AbortController();
  const watching = discovery.watch(abort.signal, (paths) => woken.push(paths));
  const target = `${tree.root}/${TRAINER}/0.log`;
  try {
    await waitFor(() => discovery.isWatchHealthy(), { timeoutMs: 5_000 });
    // Each poll appends again, so an event lost while the watcher settles is simply written anew.
    await waitFor(async () => {
      await Deno.writeTextFile(target, "more\n", { append: true });
      return woken.some((paths) => paths.includes(target));
    }, { timeoutMs: 5_000, message: () => `wake-ups seen: ${JSON.stringify(woken)}` });
  } finally {
    abort.abort();
    await watching;
  }
  assert.equal(discovery.isWatchHealthy(), false);
});

Deno.test("discovery watch counts a missing root as root_missing, keeps scanning and recovers", async () => {
  await using tree = await makeTree();
  const root = `${tree.root}/later`;
  const { discovery, metrics, logs } = harness({ include: [`${root}/*/*/*.log`], watcherRetryMs: 5 });
  let emptyWakes = 0;
  const abort = new AbortController();
  const watching = discovery.watch(abort.signal, (paths) => {
    if (paths.length === 0) emptyWakes++;
  });
  try {
    await waitFor(() => metrics.watcherRestarts.get("root_missing") >= 2, { timeoutMs: 5_000 });
    assert.equal(discovery.isWatchHealthy(), false);
    assert.ok(emptyWakes >= 2, "each failure asks for a rescan");
    assert.deepEqual(discovery.scan(), []);
    // Repeated failures log once per interval, not once per retry.
    assert.equal(logs.filter((l) => l.includes("File watcher failed")).length, 1);
    await Deno.mkdir(root);
    await waitFor(() => discovery.isWatchHealthy(), { timeoutMs: 5_000 });
  } finally {
    abort.abort();
    await watching;
  }
  assert.equal(metrics.watcherRestarts.get("error"), 0);
});

Deno.test("discovery watch returns at once when the signal is already aborted", async () => {
  const { discovery, metrics } = harness({ include: ["/nonexistent/*/*/*.log"] });
  await discovery.watch(AbortSignal.abort(), () => {
    throw new Error("Unexpected wake-up: the signal was aborted before watching");
  });
  assert.equal(metrics.watcherRestarts.total(), 0);
});

Deno.test("discovery stops watching while events flood in, asks for polling, then watches again", async () => {
  await using tree = await makeTree();
  const { discovery, metrics } = harness({
    include: [`${tree.root}/${DEFAULT}`],
    maxWatchEventsPerSec: 20,
    busyPollingMs: 300,
  });
  let emptyWakes = 0;
  const abort = new AbortController();
  const watching = discovery.watch(abort.signal, (paths) => {
    if (paths.length === 0) emptyWakes++;
  });
  const target = `${tree.root}/${TRAINER}/0.log`;
  try {
    await waitFor(() => discovery.isWatchHealthy(), { timeoutMs: 5_000 });
    // One write(2) per line, as container runtimes write: each one is an event.
    const file = await Deno.open(target, { append: true });
    try {
      await waitFor(async () => {
        for (let i = 0; i < 50; i++) await file.write(new TextEncoder().encode(`line ${i}\n`));
        return discovery.isBusyPolling();
      }, { timeoutMs: 5_000 });
    } finally {
      file.close();
    }
    assert.equal(discovery.isWatchHealthy(), false, "the tailer polls while the watcher is off");
    assert.ok(metrics.watcherRestarts.get("busy_polling") >= 1);
    assert.ok(emptyWakes >= 1, "switching to polling wakes the tailer");
    await waitFor(() => !discovery.isBusyPolling() && discovery.isWatchHealthy(), { timeoutMs: 5_000 });
  } finally {
    abort.abort();
    await watching;
  }
  assert.equal(metrics.watcherRestarts.get("error"), 0);
});
