/**
 * What every bench mode shares: a temp directory with the log root, cursor dir, agent config and agent
 * log; starting the agent with a sampler; waiting for a condition with a deadline and a stall limit; and
 * the shape of a mode's result.
 *
 * @module
 */

import { join } from "node:path";
import type { Config } from "../../src/config/mod.ts";
import { agentConfigYaml, AgentProcess } from "./agent_process.ts";
import type { ExpectedModel, LostRecord } from "./expected.ts";
import { clockTicksPerSec, ProcSampler } from "./proc_sampler.ts";
import type { ProblemExample, ReceiverCounts } from "./receiver.ts";
import { Receiver } from "./receiver.ts";

/** Options every mode takes (from the command line). */
export interface ModeOptions {
  /** Ingest: CRI lines over all files; idle: lines per file. */
  lines: number;
  /** Number of container log files; for idle, one run per entry. */
  files: number[];
  /** Steady-state modes: CRI lines per second over all files. */
  linesPerSec: number;
  /** Steady-state modes: how long the writer writes; idle: the measured window. */
  durationSec: number;
  /** Steady-state modes: rotate a file at this size (0: never). */
  rotateBytes: number;
  seed: number;
  /** Outage: how long the receiver is unavailable. */
  outageSec: number;
  /** Outage: answer 503, or stop listening. */
  outageKind: "503" | "down";
  /** Restart: how long the agent stays down after its SIGKILL. */
  downSec: number;
  /** Keep the temp directory (log root, cursor, agent log). */
  keep: boolean;
  /** Write a V8 CPU profile of the agent into this directory ("" for none). */
  cpuProfDir: string;
  /** Backlog: the agent's `memory_limit` (config notation). @default "32MiB" */
  memoryLimit?: string;
  /** Progress lines. */
  log: (line: string) => void;
}

/** One target from the issue, reported (not asserted). */
export interface TargetCheck {
  name: string;
  target: string;
  actual: string;
  isMet: boolean;
}

/** What a mode reports. */
export interface ModeResult {
  mode: string;
  params: Record<string, unknown>;
  /** Numbers with units in their names. */
  metrics: Record<string, number>;
  targets: TargetCheck[];
  receiver: ReceiverCounts;
  problemExamples: ProblemExample[];
  lostExamples: LostRecord[];
  agentExitCodes: (number | null)[];
  agentLogTail: string[];
  notes: string[];
  /** The temp directory when kept, else "". */
  keptDir: string;
}

/** A bench run's temp directory, receiver and agent processes. */
export class BenchRun implements AsyncDisposable {
  readonly dir: string;
  readonly root: string;
  readonly cursorDir: string;
  readonly configPath: string;
  readonly logPath: string;
  readonly receiver: Receiver;
  readonly ticksPerSec: number;
  #options: ModeOptions;
  /** `exporter.compression` of every agent of the run. */
  #compression: Config["exporter"]["compression"];
  #agents: { agent: AgentProcess; sampler: ProcSampler }[] = [];

  private constructor(
    dir: string,
    receiver: Receiver,
    ticksPerSec: number,
    options: ModeOptions,
    compression: Config["exporter"]["compression"],
  ) {
    this.#compression = compression;
    this.dir = dir;
    this.root = join(dir, "pods");
    this.cursorDir = join(dir, "cursor");
    this.configPath = join(dir, "agent.yaml");
    this.logPath = join(dir, "agent.log");
    this.receiver = receiver;
    this.ticksPerSec = ticksPerSec;
    this.#options = options;
  }

  /** Creates the temp directory (log root still empty) and starts the receiver for `model`. */
  static async create(
    model: ExpectedModel,
    options: ModeOptions,
    receiverOptions: { measureLatency?: boolean; port?: number } = {},
  ): Promise<BenchRun> {
    const ticksPerSec = await clockTicksPerSec();
    // Read once; a bad BENCH_AGENT_COMPRESSION fails here, before anything needs cleaning up.
    const compression = benchCompression();
    const dir = await Deno.makeTempDir({ prefix: "containerstdout-bench-" });
    await Deno.mkdir(join(dir, "pods"));
    await Deno.mkdir(join(dir, "cursor"));
    const receiver = await Receiver.start(model, receiverOptions);
    return new BenchRun(dir, receiver, ticksPerSec, options, compression);
  }

  /** Writes the config (first time) and spawns the agent with a sampler on its pid. */
  async startAgent(
    samplerIntervalMs = 250,
    config: { telemetryListen?: string; extraYaml?: string } = {},
  ): Promise<{ agent: AgentProcess; sampler: ProcSampler }> {
    await Deno.writeTextFile(
      this.configPath,
      agentConfigYaml({
        root: this.root,
        cursorDir: this.cursorDir,
        endpointUrl: this.receiver.url,
        ...config,
        // BENCH_AGENT_CONFIG: extra YAML lines for every agent of the run (e.g. `json: { enabled: false }`).
        extraYaml: [config.extraYaml ?? "", Deno.env.get("BENCH_AGENT_CONFIG") ?? ""].join("\n"),
        compression: this.#compression,
      }),
    );
    const denoArgs = this.#options.cpuProfDir === ""
      ? []
      : ["--cpu-prof", `--cpu-prof-dir=${this.#options.cpuProfDir}`];
    // Extra V8 flags for the agent (e.g. heap sizing experiments), as `deno run --v8-flags=...`.
    const v8Flags = Deno.env.get("BENCH_AGENT_V8_FLAGS") ?? "";
    if (v8Flags !== "") denoArgs.push(`--v8-flags=${v8Flags}`);
    const agent = AgentProcess.spawn({
      configPath: this.configPath,
      readPaths: [this.root, this.cursorDir, this.configPath],
      writePaths: [this.cursorDir],
      logPath: this.logPath,
      denoArgs,
    });
    const sampler = new ProcSampler(agent.pid, {
      intervalMs: samplerIntervalMs,
      ticksPerSec: this.ticksPerSec,
    });
    const entry = { agent, sampler };
    this.#agents.push(entry);
    return entry;
  }

  /** Exit codes of every agent started so far (null: killed by a signal). */
  async exitCodes(): Promise<(number | null)[]> {
    const out: (number | null)[] = [];
    for (const { agent } of this.#agents) {
      const status = await agent.exited;
      out.push(status.signal === null ? status.code : null);
    }
    return out;
  }

  /** Stops agents and samplers, closes the receiver, removes the directory unless kept. */
  async close(): Promise<void> {
    for (const { agent, sampler } of this.#agents) {
      sampler.stop();
      await agent.stop(10_000);
    }
    await this.receiver.close();
    if (!this.#options.keep) await Deno.remove(this.dir, { recursive: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The parts of a {@linkcode ModeResult} the receiver and agents give. */
  async baseResult(
    mode: string,
    model: ExpectedModel,
  ): Promise<Omit<ModeResult, "params" | "metrics" | "targets">> {
    const last = this.#agents[this.#agents.length - 1];
    return {
      mode,
      receiver: this.receiver.counts(),
      problemExamples: this.receiver.examples(),
      lostExamples: model.lost(10).examples,
      agentExitCodes: await this.exitCodes(),
      agentLogTail: last === undefined ? [] : [...last.agent.logTail],
      notes: [],
      keptDir: this.#options.keep ? this.dir : "",
    };
  }
}

/** How a wait ended. */
export type WaitOutcome = "done" | "timeout" | "stalled" | "exited";

/** Options for {@linkcode waitUntil}. */
export interface WaitUntilOptions {
  timeoutMs: number;
  /** Give up when `progress()` has not changed for this long. @default Infinity */
  stallMs?: number;
  progress?: () => number;
  /** Give up when this promise settles (e.g. the agent exited). */
  abortOn?: Promise<unknown>;
  /** Poll period. @default 25 */
  pollMs?: number;
}

/** Polls `condition` until it holds, the deadline passes, progress stalls or `abortOn` settles. */
export async function waitUntil(condition: () => boolean, options: WaitUntilOptions): Promise<WaitOutcome> {
  const deadline = performance.now() + options.timeoutMs;
  let isAborted = false;
  options.abortOn?.then(() => isAborted = true, () => isAborted = true);
  let lastProgress = options.progress?.() ?? 0;
  let lastChangeMs = performance.now();
  while (true) {
    if (condition()) return "done";
    if (isAborted) return "exited";
    const now = performance.now();
    if (now >= deadline) return "timeout";
    const progress = options.progress?.() ?? 0;
    if (progress !== lastProgress) {
      lastProgress = progress;
      lastChangeMs = now;
    } else if (now - lastChangeMs >= (options.stallMs ?? Infinity)) return "stalled";
    await delay(options.pollMs ?? 25);
  }
}

/** Resolves after `ms` (pacing only, never for correctness). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for the agent's "Agent started" log line. */
export function waitForAgentStart(agent: AgentProcess, timeoutMs = 60_000): Promise<WaitOutcome> {
  return waitUntil(() => agent.logTail.some((line) => line.includes("Agent started")), {
    timeoutMs,
    abortOn: agent.exited,
  });
}

/** A target check row. */
export function target(name: string, wanted: string, actual: string, isMet: boolean): TargetCheck {
  return { name, target: wanted, actual, isMet };
}

/** Bytes as MiB with one decimal. */
export function mib(bytes: number): number {
  return Math.round((bytes / 1048576) * 10) / 10;
}

/** A number rounded to `digits` decimals. */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** `exporter.compression` of the bench's agents: `BENCH_AGENT_COMPRESSION` (gzip, zstd, none), default gzip. */
function benchCompression(): Config["exporter"]["compression"] {
  const value = Deno.env.get("BENCH_AGENT_COMPRESSION") ?? "gzip";
  if (value !== "gzip" && value !== "zstd" && value !== "none") {
    throw new Error(`BENCH_AGENT_COMPRESSION must be gzip, zstd or none, not ${JSON.stringify(value)}`);
  }
  return value;
}
