/**
 * `deno task demo`: the agent's main job on an embedded default, with nothing else installed.
 *
 * Creates a temporary kubelet-style tree (several pods and containers, stdout and stderr, P/F partial
 * lines, multibyte UTF-8, JSON bodies), keeps writing to it with kubelet-style rename rotation, starts a
 * loopback OTLP/HTTP receiver that decodes every request, runs the agent against both as a separate
 * process with the production permission set, and prints a live summary. Stops after `--seconds`
 * (default 20) or on Ctrl-C, checks that every written record arrived, and cleans up.
 *
 * The receiver and the tree writer are the ones the test suite uses (tests/_fakes, tests/_helpers).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startOtlpSink } from "../../tests/_fakes/otlp_sink.ts";
import { freePort, readMetric, spawnAgent, waitFor } from "../../tests/_helpers/agent_process.ts";
import { ContainerLog, fakeUid } from "../../tests/_helpers/kubelet_tree.ts";

const PODS = [
  { namespace: "training", pod: "llama-ft-worker-0", containers: ["trainer", "sidecar"] },
  { namespace: "training", pod: "llama-ft-worker-1", containers: ["trainer"] },
  { namespace: "inference", pod: "vllm-7d9f8-abcde", containers: ["server"] },
  { namespace: "default", pod: "notebook-0", containers: ["jupyter"] },
];
const ROTATE_BYTES = 256 * 1024;

function body(podIndex: number, seq: number): { text: string; cuts: number[]; stream: "stdout" | "stderr" } {
  const r = seq % 20;
  if (r === 0) {
    return {
      stream: "stdout",
      text: JSON.stringify({ step: seq, loss: 1 / (seq + 1), data_time_s: 0.012, msg: "train step ✓" }),
      cuts: [],
    };
  }
  if (r === 7) {
    // A long line the runtime split into P pieces; the cuts fall inside multibyte characters.
    const text = `[rank${podIndex}]: tensor dump ` + "Grüße 🚀 ".repeat(2500) + `#${seq}`;
    return { stream: "stdout", text, cuts: [16_384 - 1, 32_768 + 1] };
  }
  if (r === 13) {
    return { stream: "stderr", text: `WARNING step ${seq}: grad norm 3.2 exceeds clip 1.0`, cuts: [] };
  }
  return {
    stream: "stdout",
    text: `[rank${podIndex}]: step ${seq} loss=${(2 / (seq + 1)).toFixed(5)} 東京 ok`,
    cuts: [],
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({ args: Deno.args, options: { seconds: { type: "string", default: "20" } } });
  const seconds = Number(values.seconds);
  const dir = await Deno.makeTempDir({ prefix: "containerstdout-demo-" });
  const root = `${dir}/pods`;
  await using sink = await startOtlpSink();
  const logs = PODS.flatMap((p, i) =>
    p.containers.map((container) =>
      new ContainerLog(root, { namespace: p.namespace, pod: p.pod, uid: fakeUid(i + 1), container })
    )
  );
  const port = freePort();
  const metricsUrl = `http://127.0.0.1:${port}`;
  await Deno.writeTextFile(
    `${dir}/config.yaml`,
    [
      `include: ["${root}/*/*/*.log"]`,
      `cursor: { path: "${dir}/cursor/cursor.kv" }`,
      `exporter: { endpoint: "${sink.url}" }`,
      `telemetry: { listen: "127.0.0.1:${port}" }`,
      `k8s: { mode: "off" }`,
    ].join("\n") + "\n",
  );
  console.log(`demo: tree ${root}, receiver ${sink.url}, agent metrics ${metricsUrl}/metrics`);
  const agent = spawnAgent({
    configPath: `${dir}/config.yaml`,
    readPaths: [dir],
    writePaths: [`${dir}/cursor`],
  });
  // Files rotated before the agent's first scan are history it does not read (as on a node where the
  // agent is installed late), so the writers start once the agent is ready.
  await waitFor(async () => {
    try {
      const res = await fetch(`${metricsUrl}/readyz`);
      await res.body?.cancel();
      return res.status === 200;
    } catch {
      return false;
    }
  }, { timeoutMs: 30_000, message: () => "agent not ready" });
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  let written = 0;
  let rotations = 0;
  const started = Date.now();
  try {
    let seq = 0;
    let lastPrint = Date.now();
    let lastCount = 0;
    while (!stop.signal.aborted && Date.now() - started < seconds * 1000) {
      for (const [i, log] of logs.entries()) {
        for (let k = 0; k < 25; k++) {
          const b = body(i, seq + k);
          log.write(b.stream, b.text, b.cuts);
          written++;
        }
        if (log.bytesWritten > ROTATE_BYTES) {
          log.rotate();
          rotations++;
        }
      }
      seq += 25;
      await new Promise((r) => setTimeout(r, 20));
      if (Date.now() - lastPrint >= 2000) {
        const received = sink.records.length;
        const rate = ((received - lastCount) * 1000 / (Date.now() - lastPrint)).toFixed(0);
        console.log(
          `t=${((Date.now() - started) / 1000).toFixed(0)}s written=${written} received=${received} ` +
            `(${rate}/s) rotations=${rotations} pieces_stitched=${await stitched(metricsUrl)}`,
        );
        lastPrint = Date.now();
        lastCount = received;
      }
    }
    for (const log of logs) log.close();
    console.log("demo: writers stopped; waiting for the agent to deliver the rest");
    await waitFor(() => uniqueBodies(sink) >= written, { timeoutMs: 30_000 }).catch(() => {});
    await printSummary(sink, written, rotations, metricsUrl);
    const code = await agent.stop();
    console.log(`demo: agent exited with code ${code}`);
    return uniqueBodies(sink) >= written && code === 0 ? 0 : 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    await agent[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
}

function uniqueBodies(
  sink: { records: readonly { record: { body: unknown }; resource: Record<string, unknown> }[] },
): number {
  const set = new Set<string>();
  for (const r of sink.records) {
    set.add(`${r.resource["k8s.pod.name"]}/${r.resource["k8s.container.name"]}/${r.record.body}`);
  }
  return set.size;
}

async function stitched(metricsUrl: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const value = (name: string): number => Number(new RegExp(`^${name} (\\d+)`, "m").exec(text)?.[1] ?? 0);
  return value("containerstdout_lines_read_total") - value("containerstdout_records_emitted_total");
}

async function printSummary(
  sink: { records: readonly { record: { body: unknown }; resource: Record<string, unknown> }[] },
  written: number,
  rotations: number,
  metricsUrl: string,
): Promise<void> {
  const perPod = new Map<string, number>();
  for (const r of sink.records) {
    const key = `${r.resource["k8s.namespace.name"]}/${r.resource["k8s.pod.name"]}/${
      r.resource["k8s.container.name"]
    }`;
    perPod.set(key, (perPod.get(key) ?? 0) + 1);
  }
  const unique = uniqueBodies(sink);
  console.log("\nrecords received per container:");
  for (const [key, n] of [...perPod].sort()) console.log(`  ${key.padEnd(48)} ${n}`);
  console.log(
    `\nwritten=${written} received=${sink.records.length} unique=${unique} lost=${written - unique} ` +
      `duplicates=${sink.records.length - unique} rotations=${rotations} ` +
      `rotations_followed=${await readMetric(metricsUrl, "containerstdout_rotations_total")} ` +
      `partial_lines_stitched=${await stitched(metricsUrl)}`,
  );
}

if (import.meta.main) Deno.exit(await main());
