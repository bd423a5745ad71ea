/**
 * End-to-end bench of the agent, run as a separate process against generated kubelet trees and a
 * checking OTLP receiver. Writes `bench/out/<mode>-<timestamp>.json` and appends a row to
 * `bench/RESULTS.md`.
 *
 * ```sh
 * deno run -A bench/e2e/run.ts <ingest|steady|restart|outage|idle> [--lines N] [--files F] [--rate R]
 *   [--duration D] [--rotate-bytes S] [--seed N] [--outage S] [--outage-kind 503|down] [--down S]
 *   [--cpu-prof DIR] [--quick] [--keep] [--no-record]
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { AGENT_DIR, REPO_DIR } from "./agent_process.ts";
import type { ModeOptions, ModeResult } from "./harness.ts";
import { runBacklog } from "./modes/backlog.ts";
import { runIdle } from "./modes/idle.ts";
import { runIngest } from "./modes/ingest.ts";
import { runOutage } from "./modes/outage.ts";
import { runRestart } from "./modes/restart.ts";
import { runSteady } from "./modes/steady.ts";

/** The bench modes. */
export type Mode = "ingest" | "steady" | "restart" | "outage" | "idle" | "backlog";

const MODES: Record<Mode, (options: ModeOptions) => Promise<ModeResult>> = {
  ingest: runIngest,
  steady: runSteady,
  restart: runRestart,
  outage: runOutage,
  idle: runIdle,
  backlog: runBacklog,
};

type Defaults = Omit<ModeOptions, "keep" | "cpuProfDir" | "log" | "seed" | "outageKind">;

const STEADY: Defaults = {
  lines: 0,
  files: [20],
  linesPerSec: 5000,
  durationSec: 30,
  rotateBytes: 512 * 1024,
  outageSec: 0,
  downSec: 2,
};

/** Defaults equal to the target scenarios of each mode. */
export const DEFAULTS: Record<Mode, Defaults> = {
  ingest: { ...STEADY, lines: 2_000_000, files: [80], linesPerSec: 0, durationSec: 0, rotateBytes: 0 },
  steady: STEADY,
  restart: STEADY,
  // Kubelet's default containerLogMaxSize (10 MiB): the outage is about the endpoint, not rotation.
  outage: { ...STEADY, durationSec: 60, outageSec: 30, rotateBytes: 10 * 1024 * 1024 },
  // Idle CPU is counted in 10 ms clock ticks: 180 s resolve 0.0056% of a core (60 s: 0.017%, a sixth of the
  // 200-file target), and the one-off work after the catch-up (V8's memory reducer runs a full collection
  // of about 20 ms some 30 s later) weighs as it does over a longer quiet spell.
  idle: { ...STEADY, lines: 100, files: [200, 1000], linesPerSec: 0, durationSec: 180, rotateBytes: 0 },
  // About 1 GB (6 M lines of ~170 B) over 20 files; the endpoint is slow for the first 30 s (--outage).
  backlog: {
    ...STEADY,
    lines: 6_000_000,
    files: [20],
    linesPerSec: 0,
    durationSec: 0,
    outageSec: 30,
    rotateBytes: 0,
  },
};

/** The `--quick` smoke presets: seconds, not minutes. */
export const QUICK: Record<Mode, Partial<Defaults>> = {
  ingest: { lines: 20_000, files: [8] },
  steady: { files: [4], linesPerSec: 500, durationSec: 5, rotateBytes: 64 * 1024 },
  restart: { files: [4], linesPerSec: 500, durationSec: 8, rotateBytes: 64 * 1024, downSec: 1 },
  outage: { files: [4], linesPerSec: 500, durationSec: 12, outageSec: 4, rotateBytes: 0 },
  idle: { files: [20], lines: 50, durationSec: 5 },
  backlog: { lines: 200_000, files: [4], outageSec: 3 },
};

/** Parsed command line. */
export interface Cli {
  mode: Mode;
  options: ModeOptions;
  shouldRecord: boolean;
  outPath: string;
}

/** Parses the command line into mode options (defaults, then `--quick`, then explicit flags). */
export function parseCli(args: string[]): Cli {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      lines: { type: "string" },
      files: { type: "string" },
      rate: { type: "string" },
      duration: { type: "string" },
      "rotate-bytes": { type: "string" },
      seed: { type: "string" },
      outage: { type: "string" },
      "outage-kind": { type: "string" },
      down: { type: "string" },
      "cpu-prof": { type: "string" },
      out: { type: "string" },
      quick: { type: "boolean" },
      keep: { type: "boolean" },
      "no-record": { type: "boolean" },
      "memory-limit": { type: "string" },
    },
  });
  const mode = positionals[0] as Mode;
  if (!(mode in MODES)) {
    throw new Error(`Unknown mode: ${positionals[0]} (one of ${Object.keys(MODES).join(", ")})`);
  }
  const base: Defaults = { ...DEFAULTS[mode], ...(values.quick === true ? QUICK[mode] : {}) };
  const num = (name: string, text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    const value = Number(text.replace(/_/g, ""));
    if (!Number.isFinite(value) || value < 0) throw new Error(`Invalid --${name}: ${text}`);
    return value;
  };
  const outageKind = values["outage-kind"] ?? "503";
  if (outageKind !== "503" && outageKind !== "down") throw new Error(`Invalid --outage-kind: ${outageKind}`);
  const options: ModeOptions = {
    lines: num("lines", values.lines, base.lines),
    files: values.files === undefined ? base.files : values.files.split(",").map((f) => num("files", f, 0)),
    linesPerSec: num("rate", values.rate, base.linesPerSec),
    durationSec: num("duration", values.duration, base.durationSec),
    rotateBytes: num("rotate-bytes", values["rotate-bytes"], base.rotateBytes),
    seed: num("seed", values.seed, 1),
    outageSec: num("outage", values.outage, base.outageSec),
    outageKind,
    downSec: num("down", values.down, base.downSec),
    keep: values.keep === true,
    cpuProfDir: values["cpu-prof"] ?? "",
    memoryLimit: values["memory-limit"],
    log: (line) => console.error(`[${mode}] ${line}`),
  };
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return {
    mode,
    options,
    shouldRecord: values["no-record"] !== true,
    outPath: values.out ?? join(REPO_DIR, "bench", "out", `${mode}-${stamp}.json`),
  };
}

/** The machine a run happened on. */
export interface Machine {
  cores: number;
  cpuModel: string;
  memTotalMiB: number;
  deno: string;
  v8: string;
  kernel: string;
  commit: string;
}

/** Reads cores and model from /proc/cpuinfo, memory from /proc/meminfo, and the repo's commit. */
export async function describeMachine(): Promise<Machine> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
  const meminfo = await Deno.readTextFile("/proc/meminfo");
  const git = await new Deno.Command("git", {
    args: ["describe", "--always", "--dirty"],
    // The agent's commit: BENCH_AGENT_DIR when it names another checkout.
    cwd: AGENT_DIR,
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => undefined);
  return {
    cores: (cpuinfo.match(/^processor\s*:/gm) ?? []).length,
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1].trim() ?? "unknown",
    memTotalMiB: Math.round(Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0) / 1024),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    kernel: Deno.osRelease(),
    commit: git?.success === true ? new TextDecoder().decode(git.stdout).trim() : "unknown",
  };
}

/** The metrics a RESULTS.md row shows per mode (the JSON has all); `x` also matches `x_<suffix>`. */
const HEADLINE: Record<string, string[]> = {
  ingest: ["wallSec", "recordsPerSec", "cpuSec", "recordsPerCpuSec", "peakRssMiB", "lost", "duplicated"],
  steady: [
    "cpuPercentOfCore",
    "maxRssMiB",
    "latencyP50Ms",
    "latencyP99Ms",
    "latencyMaxMs",
    "lost",
    "lostAfterRename",
    "duplicated",
  ],
  restart: [
    "lost",
    "lostAfterRename",
    "lostWhileAgentDown",
    "duplicated",
    "inFlightAtKill",
    "downSec",
    "rotationsWhileDown",
  ],
  outage: ["lost", "duplicated", "refusedRequests", "backlogDeliveredAfterSec", "maxRssMiBDuringOutage"],
  idle: ["cpuPercentOfCore", "maxRssMiB", "lost"],
};

/** One Markdown table row for RESULTS.md. */
export function resultsRow(result: ModeResult, machine: Machine, command: string, date: Date): string {
  const headline = HEADLINE[result.mode] ?? Object.keys(result.metrics);
  const isShown = (key: string): boolean => headline.some((h) => key === h || key.startsWith(`${h}_`));
  const numbers = Object.entries(result.metrics).filter(([k]) => isShown(k)).map(([k, v]) => `${k}=${v}`);
  const missed = result.targets.filter((t) => !t.isMet).map((t) =>
    `${t.name} ${t.actual} (want ${t.target})`
  );
  const targets = missed.length === 0 ? "all met" : `missed: ${missed.join("; ")}`;
  const cell = (text: string): string => text.replace(/\|/g, "\\|");
  return `| ${date.toISOString().slice(0, 16).replace("T", " ")} | ${result.mode} | ${
    cell(numbers.join(", "))
  } | ` +
    `${cell(targets)} | ${machine.cores} x ${cell(machine.cpuModel)}, ${machine.memTotalMiB} MiB | ` +
    `${machine.deno} | ${machine.commit} | \`${cell(command)}\` |`;
}

const RESULTS_HEADER = `# End-to-end bench results

Rows are appended by \`deno run -A bench/e2e/run.ts <mode>\` (see bench/README.md); the full JSON of each run
is in \`bench/out/\` (not committed). Targets are reported, not asserted.

| date (UTC) | mode | numbers | targets | machine | deno | commit | command |
|---|---|---|---|---|---|---|---|
`;

/** Appends a row to bench/RESULTS.md (creating it with its header). */
export async function appendResultsRow(
  row: string,
  path = join(REPO_DIR, "bench", "RESULTS.md"),
): Promise<void> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    text = RESULTS_HEADER;
  }
  await Deno.writeTextFile(path, (text.endsWith("\n") ? text : text + "\n") + row + "\n");
}

async function main(args: string[]): Promise<number> {
  let cli: Cli;
  try {
    cli = parseCli(args);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }
  const date = new Date();
  const machine = await describeMachine();
  const result = await MODES[cli.mode](cli.options);
  const command = `deno run -A bench/e2e/run.ts ${args.join(" ")}`.trim();
  await Deno.mkdir(join(cli.outPath, ".."), { recursive: true });
  await Deno.writeTextFile(
    cli.outPath,
    JSON.stringify({ date, command, machine, ...result }, null, 2) + "\n",
  );
  if (cli.shouldRecord) await appendResultsRow(resultsRow(result, machine, command, date));
  console.log(
    JSON.stringify({ mode: result.mode, metrics: result.metrics, targets: result.targets }, null, 2),
  );
  console.error(`results: ${cli.outPath}`);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
