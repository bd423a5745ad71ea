/**
 * Runs the agent as users run it: `deno run -P=agent <the start task's --v8-flags> --allow-read=...
 * --allow-write=... src/main.ts --config <file>` from the repository root, so deno.json's permission set
 * and heap sizing apply. `deno` is spawned
 * directly (never through `deno task` or a shell), so the child's pid is the agent's own process.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { Config } from "../../src/config/mod.ts";
import { agentPermissionFlags } from "../../tests/_helpers/agent_process.ts";

/** The repository root (where deno.json and src/main.ts are). */
export const REPO_DIR: string = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");

/**
 * The checkout whose agent the bench runs: this repository, or `BENCH_AGENT_DIR` (another checkout, e.g. a
 * `git worktree` of an older commit, to compare before and after in one session with the same harness).
 */
export const AGENT_DIR: string = Deno.env.get("BENCH_AGENT_DIR") ?? REPO_DIR;

/**
 * The `--v8-flags=...` argument of deno.json's `start` task (the same flags `compile` embeds), or none.
 * Read from the agent checkout's deno.json so the bench measures the agent with the heap sizing users get.
 */
export const START_TASK_V8_FLAGS: readonly string[] = (() => {
  const config = JSON.parse(Deno.readTextFileSync(`${AGENT_DIR}/deno.json`)) as {
    tasks?: { start?: string };
  };
  return (config.tasks?.start ?? "").split(/\s+/).filter((arg) => arg.startsWith("--v8-flags="));
})();

/** Options for {@linkcode agentConfigYaml}. */
export interface AgentConfigOptions {
  /** The kubelet log root (`<root>/<ns>_<pod>_<uid>/<container>/<N>.log`). */
  root: string;
  /** Directory of the cursor store. */
  cursorDir: string;
  /** OTLP base URL, e.g. `http://127.0.0.1:4318`. */
  endpointUrl: string;
  /** Telemetry listen address; "" disables it. @default "" */
  telemetryListen?: string;
  /** Largest batch, in records; unset keeps the agent's default. */
  batchMaxRecords?: number;
  /** Longest a batch waits, as a config duration; unset keeps the agent's default. */
  batchMaxDelay?: string;
  /** Extra YAML lines appended verbatim. @default "" */
  extraYaml?: string;
  /** `exporter.compression`. @default "gzip" */
  compression?: Config["exporter"]["compression"];
}

/** The bench's agent config: the minimal one from the README, with the pod informer off. */
export function agentConfigYaml(options: AgentConfigOptions): string {
  const q = (text: string): string => JSON.stringify(text);
  return [
    `include: [${q(`${options.root}/*/*/*.log`)}]`,
    `start_at: beginning`,
    `cursor: { path: ${q(`${options.cursorDir}/cursor.kv`)}, flush_interval: 1s }`,
    `exporter: { endpoint: ${q(options.endpointUrl)}, compression: ${options.compression ?? "gzip"} }`,
    `telemetry: { listen: ${q(options.telemetryListen ?? "")} }`,
    batchYaml(options),
    `k8s: { mode: "off" }`,
    options.extraYaml ?? "",
  ].join("\n") + "\n";
}

/** The `batch:` block when the bench overrides the agent's defaults, else "". */
function batchYaml(options: AgentConfigOptions): string {
  const entries = [
    options.batchMaxRecords === undefined ? null : `max_records: ${options.batchMaxRecords}`,
    options.batchMaxDelay === undefined ? null : `max_delay: ${options.batchMaxDelay}`,
  ].filter((entry) => entry !== null);
  return entries.length === 0 ? "" : `batch: { ${entries.join(", ")} }`;
}

/** Options for {@linkcode AgentProcess.spawn}. */
export interface AgentProcessOptions {
  configPath: string;
  /** Paths the agent may read besides its permission set (log root, cursor dir, config file). */
  readPaths: string[];
  /** Paths the agent may write (the cursor dir). */
  writePaths: string[];
  /** File that receives the agent's stderr (its JSON log lines), appended to. */
  logPath: string;
  /** Extra `deno run` flags, e.g. `--cpu-prof`; a `--v8-flags` here comes after the start task's. @default [] */
  denoArgs?: string[];
}

/** A running agent; stop it with `stop()`, `kill("SIGKILL")` or `await using`. */
export class AgentProcess implements AsyncDisposable {
  /** The agent's own pid (deno is spawned directly). */
  readonly pid: number;
  /** Resolves with the exit status once the process is gone and its log is written. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** `performance.now()` at spawn. */
  readonly spawnedAtMs: number;
  #child: Deno.ChildProcess;
  #tail: string[] = [];

  private constructor(child: Deno.ChildProcess, logPath: string) {
    this.#child = child;
    this.pid = child.pid;
    this.spawnedAtMs = performance.now();
    const pump = this.#pump(logPath);
    this.exited = Promise.all([child.status, pump]).then(([status]) => status);
  }

  /** Spawns `deno run -P=agent ... src/main.ts --config <configPath>` in the agent checkout's root. */
  static spawn(options: AgentProcessOptions): AgentProcess {
    const args = [
      "run",
      // The set's paths plus the bench's own: a flag next to -P=agent replaces that kind's list.
      // Another checkout's agent reads its own node_modules (the set names them relative to its root).
      ...agentPermissionFlags(
        AGENT_DIR === REPO_DIR
          ? options.readPaths
          : [...options.readPaths, `${AGENT_DIR}/node_modules/.deno`],
        options.writePaths,
      ),
      ...START_TASK_V8_FLAGS,
      ...(options.denoArgs ?? []),
      "src/main.ts",
      "--config",
      options.configPath,
    ];
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: AGENT_DIR,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    return new AgentProcess(child, options.logPath);
  }

  /** The last 40 lines the agent wrote to stderr. */
  get logTail(): readonly string[] {
    return this.#tail;
  }

  /** Sends a signal; a no-op once the process is gone. */
  kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch {
      // Already exited: nothing to signal.
    }
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit status. */
  async stop(timeoutMs = 30_000): Promise<Deno.CommandStatus> {
    this.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.kill("SIGKILL");
        resolve();
      }, timeoutMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    return await this.exited;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #pump(logPath: string): Promise<void> {
    using file = await Deno.open(logPath, { append: true, create: true });
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of this.#child.stderr) {
      let offset = 0;
      while (offset < chunk.length) offset += await file.write(chunk.subarray(offset));
      pending += decoder.decode(chunk, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      this.#tail.push(...lines);
      if (this.#tail.length > 40) this.#tail.splice(0, this.#tail.length - 40);
    }
  }
}
