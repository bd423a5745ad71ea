/**
 * Runs the agent as a separate process the way users run it: `deno run -P=agent src/main.ts`, with the
 * production permission set from deno.json plus read/write grants for the temp dirs a test uses.
 *
 * @module
 */

const REPO_ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

interface PermissionSet {
  read?: string[];
  write?: string[];
  net?: string[] | boolean;
}

/** The `agent` permission set of deno.json. */
export function agentPermissionSet(): PermissionSet {
  const config = JSON.parse(Deno.readTextFileSync(`${REPO_ROOT}/deno.json`));
  return config.permissions.agent;
}

/**
 * The `agent` permission set's paths (relative ones resolved against the repo). A `--allow-read` flag
 * replaces the set's read list rather than adding to it, so tests pass the set's paths plus their own.
 */
function permissionSetPaths(kind: "read" | "write"): string[] {
  return (agentPermissionSet()[kind] ?? []).map((p) => p.startsWith("./") ? `${REPO_ROOT}/${p.slice(2)}` : p);
}

/**
 * Loopback on every port, added to the set's hosts for tests: their fake OTLP sinks, fake API servers and
 * telemetry listeners take random loopback ports, which the production set (loopback only on 4318 and
 * 9464) does not name. Like `--allow-read`, `--allow-net` replaces the set's list (measured on Deno
 * 2.9.6), so the flag carries the set's hosts too. tests/permissions_test.ts runs without this widening.
 */
export const TEST_LOOPBACK_HOSTS: readonly string[] = ["127.0.0.1", "localhost", "[::1]"];

/** Options for {@linkcode agentPermissionFlags}. */
export interface AgentPermissionFlagOptions {
  /** Add {@linkcode TEST_LOOPBACK_HOSTS} to the set's net hosts. @default true */
  isLoopbackOpen?: boolean;
  /** More `host[:port]` entries added to the set's net hosts. @default [] */
  netHosts?: string[];
}

/** `deno run` permission flags: the `agent` set plus extra read and write paths (and loopback). */
export function agentPermissionFlags(
  readPaths: string[],
  writePaths: string[],
  options: AgentPermissionFlagOptions = {},
): string[] {
  const flags = [
    "-P=agent",
    `--allow-read=${[...permissionSetPaths("read"), ...readPaths].join(",")}`,
    `--allow-write=${[...permissionSetPaths("write"), ...writePaths].join(",")}`,
  ];
  const net = agentPermissionSet().net;
  const extra = [...(options.isLoopbackOpen ?? true ? TEST_LOOPBACK_HOSTS : []), ...(options.netHosts ?? [])];
  if (extra.length > 0 && Array.isArray(net)) flags.push(`--allow-net=${[...net, ...extra].join(",")}`);
  return flags;
}

/** Options for {@linkcode spawnAgent}. */
export interface SpawnAgentOptions {
  configPath: string;
  /** Extra paths the agent may read (log root, config file, cursor dir). */
  readPaths: string[];
  /** Extra paths the agent may write (cursor dir). */
  writePaths: string[];
  /** Extra environment. */
  env?: Record<string, string>;
  /** Extra `deno run` flags (e.g. `--cpu-prof`). @default [] */
  denoArgs?: string[];
  /** Let the agent reach loopback on any port (see {@linkcode TEST_LOOPBACK_HOSTS}). @default true */
  isLoopbackOpen?: boolean;
  /** More net hosts for the agent (e.g. `0.0.0.0:<port>` for a listener on every address). @default [] */
  netHosts?: string[];
  /** Where agent stderr lines go. @default kept in memory only */
  onStderrLine?: (line: string) => void;
}

/** A running agent process. */
export interface AgentProcess extends AsyncDisposable {
  readonly pid: number;
  /** Agent log lines (JSON) seen so far. */
  readonly logLines: string[];
  /** Resolves with the exit code. */
  readonly exited: Promise<number>;
  /** Sends a signal. */
  kill(signal: Deno.Signal): void;
  /** SIGTERM, then waits for exit (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<number>;
}

/** Starts the agent with `--config configPath`. */
export function spawnAgent(options: SpawnAgentOptions): AgentProcess {
  const args = [
    "run",
    ...agentPermissionFlags(options.readPaths, options.writePaths, {
      isLoopbackOpen: options.isLoopbackOpen,
      netHosts: options.netHosts,
    }),
    ...(options.denoArgs ?? []),
    "src/main.ts",
    "--config",
    options.configPath,
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logLines: string[] = [];
  const pump = (async () => {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of child.stderr) {
      pending += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        logLines.push(line);
        options.onStderrLine?.(line);
      }
    }
    if (pending !== "") logLines.push(pending);
  })();
  const exited = Promise.all([child.status, pump]).then(([status]) => status.code);
  const kill = (signal: Deno.Signal): void => {
    try {
      child.kill(signal);
    } catch {
      // Already exited.
    }
  };
  const stop = async (timeoutMs = 15_000): Promise<number> => {
    kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killer = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        kill("SIGKILL");
        resolve();
      }, timeoutMs);
    });
    const code = await Promise.race([exited, killer.then(() => exited)]);
    clearTimeout(timer);
    return code;
  };
  return {
    pid: child.pid,
    logLines,
    exited,
    kill,
    stop,
    async [Symbol.asyncDispose]() {
      kill("SIGKILL");
      await exited;
    },
  };
}

/** Fetches the agent's /metrics and returns the value of one series (0 when absent). */
export async function readMetric(baseUrl: string, series: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  }
  return 0;
}

/** Waits until `check` returns true, polling every `intervalMs`; throws `message()` after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number; message?: () => string } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting: ${options.message?.() ?? "condition never held"}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 25));
  }
}

/** Picks a free loopback TCP port (for the agent's telemetry listener). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
