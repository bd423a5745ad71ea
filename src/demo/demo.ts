/**
 * `deno task demo`: what a new user runs first. Everything is local and temporary:
 *
 * - a kubelet-style log tree written live (several pods and containers, stdout and stderr, P/F partial
 *   lines split inside multibyte characters, JSON bodies, kubelet rename rotation);
 * - a loopback Kubernetes API server holding the demo's pods: a 4-rank training Job (ranks 0-1 from the
 *   `RANK` env, ranks 2-3 from torchrun `[rankN]:` prefixes) plus an inference and a notebook pod;
 * - a loopback OTLP/HTTP receiver decoding logs and metrics;
 * - the agent itself as a separate process with the production permission set.
 *
 * Each rank prints dataloader timings; the live summary shows per-rank input-bound ratios as the agent
 * exports them (OTLP metrics). Near the end one rank is evicted and the demo prints the eviction record
 * with the last lines it carried (the eviction join, `eviction.enabled`). It ends by checking that every
 * written record arrived, and cleans up. Stops after `--seconds` (default 20) or on Ctrl-C.
 *
 * The demo has its own small servers (demo_*.ts) rather than the test suite's fakes: the fakes carry
 * failure injection the demo does not need, and a user-facing entry point must not import tests.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { spawnDemoAgent } from "./demo_agent.ts";
import { DemoApiServer, type DemoPod } from "./demo_apiserver.ts";
import { DemoReceiver, type DemoRecord } from "./demo_receiver.ts";
import { DemoLogWriter } from "./demo_writer.ts";

const NODE = "demo-node";
const TOKEN = "demo-token";
const JOB = "llama-ft";
const ROTATE_BYTES = 256 * 1024;
/** Seconds of dataloader wait per step, per rank: rank 3 is starved for input. */
const DATA_TIME_S = [0.012, 0.02, 0.035, 0.31];
const ITER_TIME_S = 0.4;

interface DemoPodSpec {
  namespace: string;
  pod: string;
  containers: string[];
  /** Training rank, or null for a non-training pod. */
  rank: number | null;
  /** Whether the rank comes from the RANK env (else from the torchrun body prefix). */
  rankFromEnv: boolean;
}

const PODS: DemoPodSpec[] = [
  ...[0, 1, 2, 3].map((rank) => ({
    namespace: "training",
    pod: `${JOB}-worker-${rank}`,
    containers: rank === 0 ? ["trainer", "sidecar"] : ["trainer"],
    rank,
    rankFromEnv: rank < 2,
  })),
  { namespace: "inference", pod: "vllm-7d9f8-abcde", containers: ["server"], rank: null, rankFromEnv: false },
  { namespace: "default", pod: "notebook-0", containers: ["jupyter"], rank: null, rankFromEnv: false },
];

function uidOf(index: number): string {
  return `00000000-0000-4000-8000-${String(index + 1).padStart(12, "0")}`;
}

function podObject(spec: DemoPodSpec, index: number): DemoPod {
  const isTraining = spec.rank !== null;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      uid: uidOf(index),
      name: spec.pod,
      namespace: spec.namespace,
      labels: isTraining ? { "batch.kubernetes.io/job-name": JOB, app: "trainer" } : { app: spec.pod },
      ownerReferences: isTraining
        ? [{ apiVersion: "batch/v1", kind: "Job", name: JOB, uid: uidOf(99), controller: true }]
        : [],
    },
    spec: {
      nodeName: NODE,
      containers: spec.containers.map((name) => ({
        name,
        image: `registry.example/${name}:1.0`,
        env: spec.rankFromEnv && name === "trainer" ? [{ name: "RANK", value: String(spec.rank) }] : [],
      })),
    },
    status: { phase: "Running" },
  };
}

/** One record the writer produces: text, stream, and P-piece cut offsets. */
function body(spec: DemoPodSpec, container: string, seq: number): {
  text: string;
  stream: "stdout" | "stderr";
  cuts: number[];
} {
  const prefix = spec.rank !== null && !spec.rankFromEnv ? `[rank${spec.rank}]: ` : "";
  const r = seq % 20;
  if (spec.rank !== null && container === "trainer" && r % 4 === 1) {
    const data = DATA_TIME_S[spec.rank] * (0.9 + (seq % 7) / 30);
    return {
      stream: "stdout",
      text: `${prefix}step ${seq} data_time_s=${data.toFixed(4)} iter_time_s=${ITER_TIME_S.toFixed(4)} loss=${
        (2 / (seq + 1)).toFixed(5)
      }`,
      cuts: [],
    };
  }
  if (r === 0) {
    const level = seq % 40 === 0 ? "warning" : "info";
    return {
      stream: "stdout",
      text: JSON.stringify({
        level,
        msg: "checkpoint shard written ✓",
        step: seq,
        shard: { id: seq % 8, gib: 1.5 },
      }),
      cuts: [],
    };
  }
  if (r === 7) {
    // A long line the runtime split into P pieces; the cuts fall inside multibyte characters.
    const text = `${prefix}tensor dump ` + "Grüße 🚀 ".repeat(2500) + `#${seq}`;
    return { stream: "stdout", text, cuts: [16_384 - 1, 32_768 + 1] };
  }
  if (r === 13) {
    return { stream: "stderr", text: `${prefix}WARNING step ${seq}: grad norm 3.2 > clip 1.0`, cuts: [] };
  }
  return {
    stream: "stdout",
    text: `${prefix}step ${seq} loss=${(2 / (seq + 1)).toFixed(5)} 東京 ok`,
    cuts: [],
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({ args: Deno.args, options: { seconds: { type: "string", default: "20" } } });
  const seconds = Number(values.seconds);
  const dir = await Deno.makeTempDir({ prefix: "containerstdout-demo-" });
  const root = `${dir}/pods`;
  await using receiver = new DemoReceiver();
  await using api = new DemoApiServer(TOKEN);
  PODS.forEach((spec, i) => api.updatePod(podObject(spec, i)));
  await Deno.writeTextFile(`${dir}/token`, TOKEN);
  const port = await freePort();
  const metricsUrl = `http://127.0.0.1:${port}`;
  await Deno.writeTextFile(
    `${dir}/config.yaml`,
    [
      `include: ["${root}/*/*/*.log"]`,
      `node_name: ${NODE}`,
      `cursor: { path: "${dir}/cursor/cursor.kv" }`,
      `exporter: { endpoint: "${receiver.url}", metrics: true, metrics_interval: 1s }`,
      `telemetry: { listen: "127.0.0.1:${port}" }`,
      `k8s: { mode: in_cluster, api_server: "${api.url}", token_path: "${dir}/token", ca_path: "${dir}/token" }`,
      `signals: { rate_window: 2s }`,
    ].join("\n") + "\n",
  );
  console.log(
    `demo: tree ${root}\n      API server ${api.url}, OTLP receiver ${receiver.url}, agent ${metricsUrl}/metrics`,
  );
  await using agent = spawnDemoAgent(`${dir}/config.yaml`, dir, `${dir}/cursor`);
  const writers = PODS.flatMap((spec, i) =>
    spec.containers.map((container) => ({
      spec,
      container,
      log: new DemoLogWriter(root, { namespace: spec.namespace, pod: spec.pod, uid: uidOf(i), container }),
      isStopped: false,
    }))
  );
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    // Files rotated before the agent's first scan are history it does not read, so writing starts once
    // the agent is ready.
    if (!await waitFor(() => isReady(metricsUrl), 30_000)) {
      console.log("demo: the agent did not become ready");
      return 1;
    }
    const written = new Map<string, number>();
    const started = Date.now();
    let seq = 0;
    let lastPrint = started;
    let evicted: { pod: string; at: number } | null = null;
    while (!stop.signal.aborted && Date.now() - started < seconds * 1000) {
      for (const w of writers) {
        if (w.isStopped) continue;
        for (let k = 0; k < 25; k++) {
          const b = body(w.spec, w.container, seq + k);
          w.log.write(b.stream, b.text, b.cuts);
          const key = `${w.spec.pod}/${w.container}`;
          written.set(key, (written.get(key) ?? 0) + 1);
        }
        if (w.log.bytesWritten > ROTATE_BYTES) w.log.rotate();
      }
      seq += 25;
      if (evicted === null && Date.now() - started > seconds * 750) evicted = evict(api, writers, 1);
      await new Promise((r) => setTimeout(r, 20));
      if (Date.now() - lastPrint >= 2000) {
        printLive(receiver, written, started);
        lastPrint = Date.now();
      }
    }
    for (const w of writers) w.log.close();
    const total = [...written.values()].reduce((a, b) => a + b, 0);
    console.log("demo: writers stopped; waiting for the agent to deliver the rest");
    await waitFor(() => Promise.resolve(logRecords(receiver).length >= total), 30_000);
    printRanks(receiver);
    if (evicted !== null) await printEviction(receiver, evicted.pod);
    const lost = printTotals(receiver, written);
    const agentSays = await readMetrics(metricsUrl);
    console.log(
      `agent: rotations followed=${agentSays("containerstdout_rotations_total")} ` +
        `bytes lost=${agentSays("containerstdout_lost_bytes_total")} ` +
        `JSON bodies parsed=${agentSays("containerstdout_json_parsed_total")} ` +
        `dataloader lines=${agentSays("containerstdout_dataloader_matches_total")}`,
    );
    const code = await agent.stop();
    console.log(`demo: agent exited with code ${code}`);
    return lost === 0 && code === 0 ? 0 : 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    for (const w of writers) w.log.close();
    await agent.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Marks rank `rank`'s pod evicted (as the Eviction API does) and stops its writer. */
function evict(
  api: DemoApiServer,
  writers: { spec: DemoPodSpec; log: DemoLogWriter; isStopped: boolean }[],
  rank: number,
): { pod: string; at: number } {
  const index = PODS.findIndex((p) => p.rank === rank);
  const pod = podObject(PODS[index], index);
  const message = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 52Mi.";
  pod.status = {
    phase: "Failed",
    reason: "Evicted",
    message,
    conditions: [{ type: "DisruptionTarget", status: "True", reason: "EvictionByEvictionAPI", message }],
  };
  api.updatePod(pod);
  for (const w of writers) if (w.spec === PODS[index]) w.isStopped = true;
  console.log(`demo: evicted ${pod.metadata.name} (rank ${rank})`);
  return { pod: pod.metadata.name, at: Date.now() };
}

function logRecords(receiver: DemoReceiver): DemoRecord[] {
  return receiver.records.filter((r) => r.eventName === "");
}

function printLive(receiver: DemoReceiver, written: Map<string, number>, started: number): void {
  const total = [...written.values()].reduce((a, b) => a + b, 0);
  const ratios = receiver.latestMetrics
    .filter((p) => p.metric === "training.dataloader.input_bound_ratio")
    .map((p) => [String(p.attributes["gen_ai.training.rank"]), p.value ?? 0] as const)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([rank, ratio]) => `r${rank}=${ratio.toFixed(2)}`)
    .join(" ");
  console.log(
    `t=${((Date.now() - started) / 1000).toFixed(0)}s written=${total} received=${
      logRecords(receiver).length
    } ` +
      `input-bound ${ratios === "" ? "(waiting for the first metrics export)" : ratios}`,
  );
}

function printRanks(receiver: DemoReceiver): void {
  const points = receiver.latestMetrics;
  const ratio = points.filter((p) => p.metric === "training.dataloader.input_bound_ratio");
  if (ratio.length === 0) {
    console.log("\nno dataloader metrics received (is exporter.metrics on?)");
    return;
  }
  console.log(`\ndataloader per rank (job ${JOB}, from the OTLP metrics export):`);
  for (
    const p of ratio.sort((a, b) =>
      String(a.attributes["gen_ai.training.rank"]).localeCompare(String(b.attributes["gen_ai.training.rank"]))
    )
  ) {
    const rank = p.attributes["gen_ai.training.rank"];
    const data = points.find((q) =>
      q.metric === "training.dataloader.data_time" && q.attributes["gen_ai.training.rank"] === rank
    );
    const steps = data?.count ?? 0;
    const meanMs = data !== undefined && steps > 0 ? ((data.sum ?? 0) / steps) * 1000 : 0;
    const flag = (p.value ?? 0) > 0.5 ? "  <- input-bound" : "";
    console.log(
      `  rank ${rank}: steps=${steps} mean data_time=${meanMs.toFixed(1)} ms input-bound ratio=${
        (p.value ?? 0).toFixed(2)
      }${flag}`,
    );
  }
}

async function printEviction(receiver: DemoReceiver, pod: string): Promise<void> {
  const isEvent = (r: DemoRecord): boolean => r.eventName !== "" && r.resource["k8s.pod.name"] === pod;
  await waitFor(() => Promise.resolve(receiver.records.some(isEvent)), 5_000);
  const event = receiver.records.find(isEvent);
  if (event === undefined) {
    console.log(`\nno eviction record for ${pod} (eviction.enabled is off)`);
    return;
  }
  console.log(`\neviction record: event_name=${event.eventName} severity=${event.severityText}`);
  console.log(`  body: ${JSON.stringify(event.body)}`);
  const lines = event.attributes["k8s.pod.last_lines"];
  for (const [key, value] of Object.entries(event.attributes)) {
    if (key !== "k8s.pod.last_lines") console.log(`  ${key}: ${JSON.stringify(value)}`);
  }
  if (!Array.isArray(lines)) return;
  console.log(`  k8s.pod.last_lines: ${lines.length} lines, the last ones:`);
  for (const line of lines.slice(-5) as Record<string, unknown>[]) {
    const body = typeof line.body === "string" ? line.body : JSON.stringify(line.body);
    const shown = body.length > 100 ? `${body.slice(0, 100)}...` : body;
    console.log(`    ${line.time} ${line["k8s.container.name"]} ${line["log.iostream"] ?? ""}: ${shown}`);
  }
}

/** Prints totals and returns how many written records never arrived. */
function printTotals(receiver: DemoReceiver, written: Map<string, number>): number {
  const unique = new Map<string, Set<string>>();
  let received = 0;
  for (const r of logRecords(receiver)) {
    received++;
    const key = `${r.resource["k8s.pod.name"]}/${r.resource["k8s.container.name"]}`;
    const set = unique.get(key) ?? new Set<string>();
    set.add(typeof r.body === "string" ? r.body : JSON.stringify(r.body));
    unique.set(key, set);
  }
  console.log("\nrecords per container (written / unique received):");
  let lost = 0;
  let uniqueTotal = 0;
  for (const [key, n] of [...written].sort()) {
    const got = unique.get(key)?.size ?? 0;
    uniqueTotal += got;
    lost += Math.max(0, n - got);
    console.log(`  ${key.padEnd(40)} ${n} / ${got}`);
  }
  const total = [...written.values()].reduce((a, b) => a + b, 0);
  console.log(`\nwritten=${total} received=${received} lost=${lost} duplicates=${received - uniqueTotal}`);
  return lost;
}

/** Sums of each metric's series on the agent's /metrics, by name (0 when absent or unreachable). */
async function readMetrics(metricsUrl: string): Promise<(name: string) => number> {
  let text = "";
  try {
    text = await (await fetch(`${metricsUrl}/metrics`)).text();
  } catch {
    // The summary then shows zeros.
  }
  return (name) => {
    let sum = 0;
    for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "gm"))) sum += Number(m[1]);
    return sum;
  };
}

async function isReady(metricsUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${metricsUrl}/readyz`);
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function freePort(): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return await Promise.resolve(port);
}

if (import.meta.main) Deno.exit(await main());
