/**
 * Command-line flags of the agent, the CLI overrides of the config, and `--check-config`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { closestMatch } from "./_suggest.ts";
import { loadConfigFile } from "./load.ts";
import type { Config } from "./schema.ts";
import { ConfigError, type ConfigProblem, deepFreeze, formatProblem } from "./validate.ts";

/** What the command line asks for. */
export interface CliArgs {
  /** `run` the agent, `check_config` and exit, print the `version`, or print `help`. */
  command: "run" | "check_config" | "version" | "help";
  /** `--config FILE` for `run`, `--check-config FILE` for `check_config`; undefined: built-in defaults. */
  configPath: string | undefined;
  /** `--kubeconfig FILE`. */
  kubeconfigPath: string | undefined;
}

/** The result of {@linkcode parseCliArgs}: the arguments, or a one-line error with a usage hint. */
export type CliResult = { ok: true; value: CliArgs } | { ok: false; message: string };

/** The `--help` text. */
export const HELP_TEXT: string = `Usage: containerstdout [--config FILE] [--kubeconfig FILE]
       containerstdout --check-config FILE [--kubeconfig FILE]
       containerstdout --version | --help

Tails container logs under /var/log/pods and ships them as OTLP/HTTP logs.

Flags:
  --config FILE        Read options from this YAML file (default: built-in defaults)
  --check-config FILE  Validate FILE: print "ok" and exit 0, or every problem and exit 2
  --kubeconfig FILE    Use this kubeconfig (sets k8s.kubeconfig; k8s.mode auto becomes kubeconfig)
  --version            Print the version and exit
  -h, --help           Print this help and exit

Options reference: docs/configuration.md
`;

const FLAGS = {
  config: { type: "string" },
  "check-config": { type: "string" },
  kubeconfig: { type: "string" },
  version: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const USAGE_HINT = "see --help";

/**
 * Parses the agent's flags. Unknown flags, missing values, repeated flags, positional arguments and
 * `--config` together with `--check-config` are errors.
 *
 * @example
 * ```ts
 * parseCliArgs(["--config", "/etc/containerstdout/config.yaml"]);
 * // { ok: true, value: { command: "run", configPath: "/etc/...", kubeconfigPath: undefined } }
 * parseCliArgs(["--confg", "x"]); // { ok: false, message: "Unknown flag --confg, did you mean --config (see --help)" }
 * ```
 */
export function parseCliArgs(args: string[]): CliResult {
  const { tokens } = parseArgs({ args, options: FLAGS, strict: false, allowPositionals: true, tokens: true });
  const values = new Map<string, string | true>();
  for (const token of tokens) {
    if (token.kind === "option-terminator") continue;
    if (token.kind === "positional") return failure(`Unexpected argument ${JSON.stringify(token.value)}`);
    const spec = FLAGS[token.name as keyof typeof FLAGS] as { type: "string" | "boolean" } | undefined;
    if (spec === undefined || !Object.hasOwn(FLAGS, token.name)) return unknownFlag(token.rawName);
    if (values.has(token.name)) return failure(`Flag --${token.name} given twice`);
    if (spec.type === "boolean") {
      if (token.value !== undefined) return failure(`Flag --${token.name} takes no value`);
      values.set(token.name, true);
      continue;
    }
    // A value that looks like a flag is almost always a forgotten value; `--config=./-x` still works.
    const isMissing = token.value === undefined || token.value === "" ||
      (!token.inlineValue && token.value.startsWith("-"));
    if (isMissing) return failure(`Flag --${token.name} needs a file path`);
    values.set(token.name, token.value as string);
  }
  return toArgs(values);
}

function toArgs(values: Map<string, string | true>): CliResult {
  const path = (name: string): string | undefined => values.get(name) as string | undefined;
  const kubeconfigPath = path("kubeconfig");
  if (values.has("help")) {
    return { ok: true, value: { command: "help", configPath: undefined, kubeconfigPath } };
  }
  if (values.has("version")) {
    return { ok: true, value: { command: "version", configPath: undefined, kubeconfigPath } };
  }
  const configPath = path("config");
  const checkPath = path("check-config");
  if (configPath !== undefined && checkPath !== undefined) {
    return failure("Use either --config or --check-config, not both");
  }
  if (checkPath !== undefined) {
    return { ok: true, value: { command: "check_config", configPath: checkPath, kubeconfigPath } };
  }
  return { ok: true, value: { command: "run", configPath, kubeconfigPath } };
}

function unknownFlag(rawName: string): CliResult {
  const known = Object.keys(FLAGS).map((name) => `--${name}`);
  const suggestion = closestMatch(rawName.replace(/^-+/, "--"), known);
  const hint = suggestion === undefined ? "" : `, did you mean ${suggestion}`;
  return failure(`Unknown flag ${rawName}${hint}`);
}

function failure(message: string): CliResult {
  return { ok: false, message: `${message} (${USAGE_HINT})` };
}

/**
 * Applies the flags that override config options: `--kubeconfig` sets `k8s.kubeconfig` and turns
 * `k8s.mode: auto` into `kubeconfig` (an explicit mode is kept). Returns a new frozen Config.
 *
 * @example
 * ```ts
 * const config = applyCliOverrides(validated, { kubeconfigPath: "/home/me/.kube/config" });
 * // config.k8s.mode === "kubeconfig" when it was "auto"
 * ```
 */
export function applyCliOverrides(config: Config, cli: Pick<CliArgs, "kubeconfigPath">): Config {
  if (cli.kubeconfigPath === undefined) return config;
  const mode = config.k8s.mode === "auto" ? "kubeconfig" : config.k8s.mode;
  return deepFreeze({ ...config, k8s: { ...config.k8s, kubeconfig: cli.kubeconfigPath, mode } });
}

/** What {@linkcode runCheckConfig} needs from the process. */
export interface CheckConfigIo {
  /** Environment getter handed to validation. */
  env: (name: string) => string | undefined;
  /** Writes one line of output (without its newline). */
  stdout: (line: string) => void;
  /** Checks that only later stages can make on a schema-valid config (e.g. compiling a pattern). */
  checkMore?: (config: Config) => readonly ConfigProblem[];
}

/**
 * `--check-config FILE`: prints `ok` and returns exit code 0, or prints every problem as
 * `<key path>: <message>` and returns 2.
 *
 * @example
 * ```ts
 * const code = await runCheckConfig("config.yaml", { env: (n) => Deno.env.get(n), stdout: console.log });
 * Deno.exit(code);
 * ```
 */
export async function runCheckConfig(path: string, io: CheckConfigIo): Promise<number> {
  let problems: readonly ConfigProblem[];
  try {
    const config = await loadConfigFile(path, { env: io.env });
    problems = io.checkMore?.(config) ?? [];
  } catch (thrown) {
    if (!(thrown instanceof ConfigError)) throw thrown;
    problems = thrown.problems;
  }
  for (const problem of problems) io.stdout(formatProblem(problem));
  if (problems.length > 0) return 2;
  io.stdout("ok");
  return 0;
}
