/**
 * Where the agent's memory goes: runs the agent (`deno run -P=agent`, as users run it) over a generated
 * backlog into the checking receiver, then idles it, sampling every 100 ms both the kernel's view
 * (/proc/<pid>/status: RSS split into anonymous and file-backed pages) and V8's (`/metrics`
 * `process_heap_bytes`: heap total, used, external). Prints the peak of each during ingest and the
 * values after an idle settle. Small by default: it sizes memory, it does not time anything.
 *
 * ```sh
 * deno run -A bench/e2e/memory_probe.ts [--lines 400000] [--files 20] [--idle 5]
 *   [--v8-flags=--max-semi-space-size=2]   # after the start task's own --v8-flags; the last value wins
 * BENCH_AGENT_CONFIG='memory_limit: 16MiB' deno run -A bench/e2e/memory_probe.ts   # extra agent YAML
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { agentConfigYaml, AgentProcess, START_TASK_V8_FLAGS } from "./agent_process.ts";
import { writeBacklog } from "./backlog.ts";
import { layoutFor } from "./modes/_live.ts";
import { Receiver } from "./receiver.ts";

interface Sample {
  rssMiB: number;
  anonMiB: number;
  fileMiB: number;
  heapTotalMiB: number;
  heapUsedMiB: number;
  externalMiB: number;
  /** `containerstdout_memory_accounted_bytes`, both kinds: what `memory_limit` counts. */
  accountedMiB: number;
  /** `containerstdout_export_queue_batches`: sealed batches waiting for or in a request. */
  queueBatches: number;
}

const MIB = 1024 * 1024;

function procMemory(pid: number): Pick<Sample, "rssMiB" | "anonMiB" | "fileMiB"> | null {
  let status: string;
  try {
    status = Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch {
    return null;
  }
  const kib = (key: string): number => Number(status.match(new RegExp(`${key}:\\s+(\\d+)`))?.[1] ?? 0);
  return { rssMiB: kib("VmRSS") / 1024, anonMiB: kib("RssAnon") / 1024, fileMiB: kib("RssFile") / 1024 };
}

async function scrapeMetrics(
  url: string,
): Promise<Pick<Sample, "heapTotalMiB" | "heapUsedMiB" | "externalMiB" | "accountedMiB" | "queueBatches">> {
  const out = { heapTotalMiB: 0, heapUsedMiB: 0, externalMiB: 0, accountedMiB: 0, queueBatches: 0 };
  try {
    const text = await (await fetch(url, { signal: AbortSignal.timeout(1000) })).text();
    const value = (kind: string): number =>
      Number(text.match(new RegExp(`process_heap_bytes\\{kind="${kind}"\\} (\\S+)`))?.[1] ?? 0) / MIB;
    out.heapTotalMiB = value("total");
    out.heapUsedMiB = value("used");
    out.externalMiB = value("external");
    for (const match of text.matchAll(/^containerstdout_memory_accounted_bytes\{[^}]*\} (\S+)$/gm)) {
      out.accountedMiB += Number(match[1]) / MIB;
    }
    out.queueBatches = Number(text.match(/^containerstdout_export_queue_batches (\S+)$/m)?.[1] ?? 0);
  } catch {
    // Not up yet, or busy past the timeout: this sample keeps zeros for V8's view.
  }
  return out;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function peakOf(samples: Sample[]): Sample {
  const peak: Sample = {
    rssMiB: 0,
    anonMiB: 0,
    fileMiB: 0,
    heapTotalMiB: 0,
    heapUsedMiB: 0,
    externalMiB: 0,
    accountedMiB: 0,
    queueBatches: 0,
  };
  for (const s of samples) {
    for (const key of Object.keys(peak) as (keyof Sample)[]) peak[key] = Math.max(peak[key], s[key]);
  }
  return peak;
}

const format = (s: Sample): string =>
  `rss ${s.rssMiB.toFixed(1)} (anon ${s.anonMiB.toFixed(1)}, file ${s.fileMiB.toFixed(1)}) MiB; ` +
  `V8 heap total ${s.heapTotalMiB.toFixed(1)}, used ${s.heapUsedMiB.toFixed(1)}, external ` +
  `${s.externalMiB.toFixed(1)} MiB; accounted (memory_limit) ${s.accountedMiB.toFixed(1)} MiB, ` +
  `${s.queueBatches} batches queued`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      lines: { type: "string", default: "400000" },
      files: { type: "string", default: "20" },
      idle: { type: "string", default: "5" },
      "v8-flags": { type: "string", default: "" },
    },
  });
  const lines = Number(values.lines);
  const files = Number(values.files);
  const dir = await Deno.makeTempDir({ prefix: "containerstdout-memory-probe-" });
  try {
    const root = join(dir, "pods");
    const cursorDir = join(dir, "cursor");
    await Deno.mkdir(cursorDir);
    const { model } = await writeBacklog(root, { seed: 1, ...layoutFor(files), lines });
    await using receiver = await Receiver.start(model);
    const port = freePort();
    const configPath = join(dir, "agent.yaml");
    await Deno.writeTextFile(
      configPath,
      agentConfigYaml({
        root,
        cursorDir,
        endpointUrl: receiver.url,
        telemetryListen: `127.0.0.1:${port}`,
        extraYaml: Deno.env.get("BENCH_AGENT_CONFIG") ?? "",
      }),
    );
    const flags = values["v8-flags"];
    await using agent = AgentProcess.spawn({
      configPath,
      readPaths: [root, cursorDir, configPath],
      writePaths: [cursorDir],
      logPath: join(dir, "agent.log"),
      denoArgs: flags === "" ? [] : [`--v8-flags=${flags}`],
    });
    const metricsUrl = `http://127.0.0.1:${port}/metrics`;
    const sample = async (): Promise<Sample | null> => {
      const proc = procMemory(agent.pid);
      return proc === null ? null : { ...proc, ...(await scrapeMetrics(metricsUrl)) };
    };
    const ingest: Sample[] = [];
    while (receiver.counts().lost > 0) {
      const s = await sample();
      if (s === null) throw new Error(`Agent exited during ingest: ${agent.logTail.slice(-5).join("\n")}`);
      ingest.push(s);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, Number(values.idle) * 1000));
    const settled = await sample();
    const counts = receiver.counts();
    const allFlags = [...START_TASK_V8_FLAGS, ...(flags === "" ? [] : [`--v8-flags=${flags}`])].join(" ");
    console.log(
      `deno flags [${allFlags}], ${lines} lines / ${files} files, ${ingest.length} samples`,
    );
    console.log(`  ingest peak:   ${format(peakOf(ingest))}`);
    if (settled !== null) console.log(`  idle ${values.idle} s later: ${format(settled)}`);
    console.log(
      `  receiver: ${counts.matched} matched, ${counts.lost} lost, ${counts.duplicated} duplicated`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
