/**
 * Finds and runs the external validators of the chart and alert tests (helm, kubectl, promtool). They are
 * installed by `bash .ci/install_tools.sh`; a test that cannot find one fails and says so.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** A validator binary the tests use. */
export type ToolName = "helm" | "kubectl" | "promtool";

/** The repository root, for paths handed to the tools. */
export const REPO_ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** What a finished tool run printed and returned. */
export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for {@linkcode runTool}. */
export interface RunToolOptions {
  /** Text written to the tool's stdin. @default no stdin */
  stdin?: string;
  /** Working directory. @default REPO_ROOT */
  cwd?: string;
  /** Extra environment variables. @default none */
  env?: Record<string, string>;
}

/**
 * The directory install_tools.sh installs into: `${CONTAINERSTDOUT_TOOLS:-$HOME/.cache/containerstdout-tools}/bin`.
 */
export function toolsBinDir(): string {
  const root = Deno.env.get("CONTAINERSTDOUT_TOOLS") ??
    join(Deno.env.get("HOME") ?? "/root", ".cache", "containerstdout-tools");
  return join(root, "bin");
}

const found = new Map<ToolName, string>();

/**
 * The path of `name`: the pinned copy in {@linkcode toolsBinDir} first (a different kubectl on PATH may be
 * older), then PATH.
 *
 * @throws {Error} when the tool is in neither place, with the command that installs it.
 */
export function findTool(name: ToolName): string {
  const cached = found.get(name);
  if (cached !== undefined) return cached;
  const dirs = [toolsBinDir(), ...(Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "")];
  for (const dir of dirs) {
    const path = join(dir, name);
    if (isExecutableFile(path)) {
      found.set(name, path);
      return path;
    }
  }
  throw new Error(
    `Cannot find ${name}: not in ${toolsBinDir()} nor on PATH; install it with: bash .ci/install_tools.sh`,
  );
}

function isExecutableFile(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) return false;
    throw err;
  }
}

/** Runs `name` with `args` to completion and returns its exit code and output. */
export async function runTool(
  name: ToolName,
  args: string[],
  options: RunToolOptions = {},
): Promise<ToolResult> {
  const child = new Deno.Command(findTool(name), {
    args,
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Read while writing: a tool that answers before it has read all of stdin must not block on a full pipe.
  const output = child.output();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    try {
      await writer.write(new TextEncoder().encode(options.stdin));
      await writer.close();
    } catch (err) {
      // A tool that exits without reading its input is judged by its exit code and output below.
      if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
    }
  }
  const { code, stdout, stderr } = await output;
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** Like {@linkcode runTool}, but throws with the tool's output unless it exits 0. */
export async function runToolOk(
  name: ToolName,
  args: string[],
  options: RunToolOptions = {},
): Promise<string> {
  const result = await runTool(name, args, options);
  if (result.code !== 0) {
    throw new Error(
      `Tool ${name} ${args.join(" ")} exited ${result.code}:\n${result.stdout}\n${result.stderr}`.trimEnd(),
    );
  }
  return result.stdout;
}
