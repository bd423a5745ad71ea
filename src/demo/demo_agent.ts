/**
 * Starts the agent for the demo the way users run it: `deno run -P=agent src/main.ts --config ...`,
 * with the production permission set of deno.json plus read/write grants for the demo's temp dir and
 * loopback on any port (a `--allow-read`/`--allow-net` flag replaces the set's list, so the set's own
 * entries are passed again).
 *
 * @module
 */

const REPO_ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** A running agent process. */
export interface DemoAgent extends AsyncDisposable {
  /** SIGTERM, then waits for the exit code (SIGKILL after 15 s). */
  stop(): Promise<number>;
}

/** Spawns the agent with `configPath`, allowed to read `dir` and write `cursorDir`. */
export function spawnDemoAgent(configPath: string, dir: string, cursorDir: string): DemoAgent {
  const set = JSON.parse(Deno.readTextFileSync(`${REPO_ROOT}/deno.json`)).permissions.agent;
  const resolve = (p: string): string => p.startsWith("./") ? `${REPO_ROOT}/${p.slice(2)}` : p;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-P=agent",
      `--allow-read=${[...set.read.map(resolve), dir].join(",")}`,
      `--allow-write=${[...set.write.map(resolve), cursorDir].join(",")}`,
      // The demo's receiver, API server and listener take random loopback ports, which the production
      // set (loopback on 4318 and 9464 only) does not name; like --allow-read, --allow-net replaces the
      // set's list, so its hosts are passed again (docs/permissions.md).
      `--allow-net=${[...set.net, "127.0.0.1", "localhost", "[::1]"].join(",")}`,
      "src/main.ts",
      "--config",
      configPath,
    ],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: Deno.env.get("DEMO_AGENT_STDERR") === "1" ? "inherit" : "null",
  }).spawn();
  let stopped: Promise<number> | null = null;
  const stop = (): Promise<number> => {
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      const killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already exited.
        }
      }, 15_000);
      const status = await child.status;
      clearTimeout(killer);
      return status.code;
    })();
    return stopped;
  };
  return { stop, [Symbol.asyncDispose]: async () => void await stop() };
}
