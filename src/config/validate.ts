/**
 * Turns a parsed config document into a deeply frozen, fully defaulted {@linkcode Config}, or lists
 * every problem in it at once. Pure apart from the injected environment getter.
 *
 * @module
 */

import { checkFormat } from "./_formats.ts";
import { convertRateBudget, convertRateBudgetMap } from "./_rate_budget.ts";
import { closestMatch } from "./_suggest.ts";
import { describeValue, isMapping } from "./_values.ts";
import { type Config, CONFIG_SCHEMA, NODE_NAME_ENV, type OptionSpec } from "./schema.ts";
import { formatDuration, formatSize, parseDuration, parseSize } from "./units.ts";

/** One thing wrong with a config: the dotted key path (`tail.max_open_files`, `include[2]`) and why. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** The result of {@linkcode validateConfig}. */
export type ValidateResult = { ok: true; value: Config } | { ok: false; errors: ConfigProblem[] };

/** Options for {@linkcode validateConfig}. */
export interface ValidateOptions {
  /**
   * Reads an environment variable for `${env:NAME}` references and for the defaults that come from the
   * environment (`node_name`, `k8s.kubeconfig`). May throw (a missing permission): that is a problem.
   * @default (name) => Deno.env.get(name)
   */
  env?: (name: string) => string | undefined;
}

/** A config that cannot be used; the message lists every problem, one `<key path>: <message>` per line. */
export class ConfigError extends Error {
  /** Every problem found. */
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], options?: ErrorOptions) {
    super(problems.map(formatProblem).join("\n"), options);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** One problem as a line: `<key path>: <message>` (`(root)` for the document itself). */
export function formatProblem(problem: ConfigProblem): string {
  return `${problem.path === "" ? "(root)" : problem.path}: ${problem.message}`;
}

interface CompiledSpec {
  spec: OptionSpec;
  min?: number;
  max?: number;
  defaultValue: unknown;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; message: string };
// Object-valued options report each problem at its own nested path.
type Converted = Outcome<unknown> | { ok: false; problems: ConfigProblem[] };

interface Context {
  problems: ConfigProblem[];
  env: (name: string) => string | undefined;
}

const SPECS: ReadonlyMap<string, CompiledSpec> = compileSchema();
const SECTIONS: ReadonlySet<string> = new Set(
  CONFIG_SCHEMA.flatMap((s) =>
    s.key.split(".").slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join("."))
  ),
);
const ALL_KEYS: readonly string[] = [...SPECS.keys(), ...SECTIONS];

/**
 * Validates a parsed config document (`undefined`/`null` means empty) against {@linkcode CONFIG_SCHEMA}:
 * unknown keys (with a suggestion), types, units, bounds, enums, formats and cross-field rules, all
 * reported together. `${env:NAME}` is expanded in every string value first; `$${` writes a literal `${`.
 *
 * @example
 * ```ts
 * const r = validateConfig({ tail: { rescan_interval: "2s" } }, { env: () => undefined });
 * // r.ok && r.value.tail.rescanIntervalMs === 2000
 * ```
 */
export function validateConfig(raw: unknown, options: ValidateOptions = {}): ValidateResult {
  const ctx: Context = { problems: [], env: options.env ?? ((name) => Deno.env.get(name)) };
  const given = new Map<string, unknown>();
  if (raw !== undefined && raw !== null) {
    if (isMapping(raw)) collectKeys(raw, "", given, ctx);
    else ctx.problems.push({ path: "", message: `Expected a mapping of options, got ${describeValue(raw)}` });
  }
  const values = new Map<string, unknown>();
  for (const [key, compiled] of SPECS) {
    const value = given.get(key);
    if (value === undefined || value === null) {
      values.set(key, compiled.defaultValue);
      continue;
    }
    const expanded = expandEnvDeep(value, key, ctx);
    if (expanded === undefined) continue;
    const converted = convert(compiled, expanded);
    if (!converted.ok) {
      if ("problems" in converted) ctx.problems.push(...converted.problems);
      else ctx.problems.push({ path: key, message: converted.message });
      continue;
    }
    const before = ctx.problems.length;
    if (compiled.spec.format !== undefined) {
      checkFormat(compiled.spec.format, key, converted.value, ctx.problems);
    }
    if (ctx.problems.length === before) values.set(key, converted.value);
  }
  fillFromEnvironment(values, ctx);
  checkCrossField(values, ctx);
  if (ctx.problems.length > 0) return { ok: false, errors: ctx.problems };
  return { ok: true, value: buildConfig(values) };
}

function collectKeys(
  section: Record<string, unknown>,
  prefix: string,
  given: Map<string, unknown>,
  ctx: Context,
): void {
  for (const [name, value] of Object.entries(section)) {
    const key = prefix === "" ? name : `${prefix}.${name}`;
    // A dotted name would make `tail.x` and `tail: {x}` two spellings of one option, one silently winning.
    if (name.includes(".")) {
      ctx.problems.push({ path: key, message: "Unknown key, nest sections instead of dots" });
    } else if (SPECS.has(key)) given.set(key, value);
    else if (SECTIONS.has(key)) {
      if (isMapping(value)) collectKeys(value, key, given, ctx);
      else if (value !== null) {
        ctx.problems.push({
          path: key,
          message: `Expected a mapping of options, got ${describeValue(value)}`,
        });
      }
    } else {
      const suggestion = closestMatch(key, ALL_KEYS);
      const message = suggestion === undefined ? "Unknown key" : `Unknown key, did you mean ${suggestion}`;
      ctx.problems.push({ path: key, message });
    }
  }
}

// Expands `${env:NAME}` in every string inside `value`; undefined when a reference failed (reported).
function expandEnvDeep(value: unknown, path: string, ctx: Context): unknown {
  if (typeof value === "string") return expandEnv(value, path, ctx);
  if (Array.isArray(value)) {
    const out = value.map((element, i) => expandEnvDeep(element, `${path}[${i}]`, ctx));
    return out.some((element, i) => element === undefined && value[i] !== undefined) ? undefined : out;
  }
  if (isMapping(value)) {
    const out: Record<string, unknown> = {};
    let isOk = true;
    for (const [name, element] of Object.entries(value)) {
      out[name] = expandEnvDeep(element, `${path}.${name}`, ctx);
      if (out[name] === undefined && element !== undefined) isOk = false;
    }
    return isOk ? out : undefined;
  }
  return value;
}

const ENV_REF_RE = /\$\$\{|\$\{([^}]*)\}?/g;
const ENV_VAR_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

function expandEnv(text: string, path: string, ctx: Context): string | undefined {
  let isOk = true;
  const out = text.replace(ENV_REF_RE, (match: string, body: string | undefined) => {
    if (match === "$${") return "${";
    const reference = resolveReference(match, body ?? "", ctx);
    if (reference.ok) return reference.value;
    ctx.problems.push({ path, message: reference.message });
    isOk = false;
    return "";
  });
  return isOk ? out : undefined;
}

function resolveReference(match: string, body: string, ctx: Context): Outcome<string> {
  // Quoted: the reference is the end of the text, which may end in any character (even a period).
  if (!match.endsWith("}")) {
    return { ok: false, message: `Unterminated reference ${JSON.stringify(match)}: no closing "}"` };
  }
  if (!body.startsWith("env:")) {
    return {
      ok: false,
      message: `Unsupported reference ${match}, write \${env:NAME} (or $\${ for a literal \${)`,
    };
  }
  const name = body.slice("env:".length);
  if (!ENV_VAR_RE.test(name)) return { ok: false, message: `Invalid environment variable name: ${match}` };
  const value = readEnv(name, ctx);
  if (!value.ok) return value;
  if (value.value === undefined) return { ok: false, message: `Environment variable is not set: ${name}` };
  return { ok: true, value: value.value };
}

function readEnv(name: string, ctx: Context): Outcome<string | undefined> {
  try {
    return { ok: true, value: ctx.env(name) };
  } catch (thrown) {
    const detail = thrown instanceof Error ? thrown.message : String(thrown);
    return { ok: false, message: `Cannot read environment variable ${name}: ${detail}` };
  }
}

function convert(compiled: CompiledSpec, value: unknown): Converted {
  const { spec } = compiled;
  switch (spec.type) {
    case "string":
      return typeof value === "string" ? { ok: true, value } : expected("a string", value);
    case "string_list":
      return convertStringList(value);
    case "string_map":
      return convertStringMap(value);
    case "bool":
      return typeof value === "boolean" ? { ok: true, value } : expected("true or false", value);
    case "int":
      return convertInt(compiled, value);
    case "duration":
      return convertQuantity(compiled, value, "duration");
    case "size":
      return convertQuantity(compiled, value, "size");
    case "enum":
      return convertEnum(spec, value);
    case "url":
      return convertUrl(spec, value);
    case "listen_address":
      return convertListenAddress(spec, value);
    case "rate_budget":
      // null only reaches here as the schema default: a given null means "unset" and takes the default.
      return value === null ? { ok: true, value } : convertRateBudget(spec.key, value);
    case "rate_budget_map":
      return convertRateBudgetMap(spec.key, value);
  }
}

function expected(what: string, value: unknown): Converted {
  return { ok: false, message: `Expected ${what}, got ${describeValue(value)}` };
}

function convertStringList(value: unknown): Converted {
  if (!Array.isArray(value)) return expected("a list of strings", value);
  const bad = value.findIndex((element) => typeof element !== "string");
  if (bad >= 0) {
    return { ok: false, message: `Expected a list of strings, item ${bad} is ${describeValue(value[bad])}` };
  }
  return { ok: true, value: [...value] };
}

function convertStringMap(value: unknown): Converted {
  if (!isMapping(value)) return expected("a mapping of strings", value);
  const bad = Object.entries(value).find(([, element]) => typeof element !== "string");
  if (bad !== undefined) {
    return {
      ok: false,
      message: `Expected a mapping of strings, ${bad[0]} is ${describeValue(bad[1])} (quote it)`,
    };
  }
  return { ok: true, value: { ...value } };
}

function convertInt(compiled: CompiledSpec, value: unknown): Converted {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) return expected("an integer", value);
  return checkBounds(compiled, value, String);
}

function convertQuantity(compiled: CompiledSpec, value: unknown, kind: "duration" | "size"): Converted {
  const example = kind === "duration" ? "like 250ms, 2s or 1m30s" : "like 512B, 16KiB or 1MiB";
  if (typeof value !== "string" && typeof value !== "number") return expected(`a ${kind} ${example}`, value);
  const parsed = kind === "duration" ? parseDuration(value) : parseSize(value);
  if (!parsed.ok) return { ok: false, message: `Invalid ${kind} ${JSON.stringify(value)}: ${parsed.detail}` };
  return checkBounds(compiled, parsed.value, kind === "duration" ? formatDuration : formatSize);
}

function checkBounds(compiled: CompiledSpec, value: number, format: (n: number) => string): Converted {
  if (compiled.min !== undefined && value < compiled.min) {
    return { ok: false, message: `Must be at least ${format(compiled.min)}, got ${format(value)}` };
  }
  if (compiled.max !== undefined && value > compiled.max) {
    return { ok: false, message: `Must be at most ${format(compiled.max)}, got ${format(value)}` };
  }
  return { ok: true, value };
}

function convertEnum(spec: OptionSpec, value: unknown): Converted {
  const values = spec.values ?? [];
  if (typeof value === "string" && values.includes(value)) return { ok: true, value };
  const suggestion = typeof value === "string" ? closestMatch(value, values) : undefined;
  const hint = suggestion === undefined ? "" : ` (did you mean ${suggestion})`;
  return { ok: false, message: `Expected one of ${values.join(", ")}, got ${describeValue(value)}${hint}` };
}

function convertUrl(spec: OptionSpec, value: unknown): Converted {
  if (typeof value !== "string") return expected("an http(s) URL", value);
  if (value === "" && spec.allowEmpty === true) return { ok: true, value };
  const shown = JSON.stringify(value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, message: `Expected an http(s) URL, got ${shown}` };
  }
  if (!/^https?:\/\/[^/]/i.test(value)) {
    return { ok: false, message: `Expected an http or https URL, got ${shown}` };
  }
  if (url.username !== "" || url.password !== "") {
    return { ok: false, message: "Credentials in the URL are not allowed, use headers" };
  }
  if (url.search !== "" || url.hash !== "") {
    return { ok: false, message: `Query and fragment are not allowed, got ${shown}` };
  }
  // Stored without trailing slashes so that `${url}/v1/logs` never has a double slash.
  return { ok: true, value: value.replace(/\/+$/, "") };
}

function convertListenAddress(spec: OptionSpec, value: unknown): Converted {
  if (typeof value !== "string") return expected("host:port", value);
  if (value === "" && spec.allowEmpty === true) return { ok: true, value };
  const shown = JSON.stringify(value);
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  if (m === null) {
    const hint = (value.match(/:/g)?.length ?? 0) > 1 ? ", IPv6 addresses need brackets like [::1]:9464" : "";
    return { ok: false, message: `Expected host:port or [ipv6]:port, got ${shown}${hint}` };
  }
  const [, ipv6, host, port] = m;
  if (Number(port) > 65535) return { ok: false, message: `Port out of range 0..65535: ${port}` };
  if (ipv6 !== undefined && !isIpv6(ipv6)) return { ok: false, message: `Invalid IPv6 address: ${ipv6}` };
  if (host === "") {
    return { ok: false, message: `Missing host, use 0.0.0.0:${port} to listen on all interfaces` };
  }
  if (host !== undefined && !/^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$/.test(host)) {
    return { ok: false, message: `Invalid host: ${JSON.stringify(host)}` };
  }
  return { ok: true, value };
}

function isIpv6(address: string): boolean {
  if (!address.includes(":")) return false;
  try {
    new URL(`http://[${address}]/`);
    return true;
  } catch {
    return false;
  }
}

// Defaults that Kubernetes injects through the environment; read here so nothing downstream does.
function fillFromEnvironment(values: Map<string, unknown>, ctx: Context): void {
  for (const [key, variable] of [["node_name", NODE_NAME_ENV], ["k8s.kubeconfig", "KUBECONFIG"]]) {
    if (values.get(key) !== "") continue;
    const read = readEnv(variable, ctx);
    if (read.ok) values.set(key, read.value ?? "");
    else ctx.problems.push({ path: key, message: read.message });
  }
}

function checkCrossField(values: Map<string, unknown>, ctx: Context): void {
  const num = (key: string): number | undefined => values.get(key) as number | undefined;
  const rule = (path: string, isBroken: boolean | undefined, message: string): void => {
    if (isBroken === true) ctx.problems.push({ path, message });
  };
  const memory = num("memory_limit");
  const maxLog = num("max_log_size");
  if (memory !== undefined && maxLog !== undefined) {
    rule(
      "memory_limit",
      memory < 4 * maxLog,
      `Must be at least 4 x max_log_size (${formatSize(4 * maxLog)})`,
    );
  }
  const batchBytes = num("batch.max_bytes");
  if (memory !== undefined && batchBytes !== undefined) {
    rule("batch.max_bytes", batchBytes > memory, `Must be at most memory_limit (${formatSize(memory)})`);
  }
  const open = num("tail.max_open_files");
  const tracked = num("tail.max_tracked_files");
  if (open !== undefined && tracked !== undefined) {
    rule("tail.max_open_files", open > tracked, `Must be at most tail.max_tracked_files (${tracked})`);
  }
  const initial = num("exporter.retry.initial_interval");
  const maxInterval = num("exporter.retry.max_interval");
  if (initial !== undefined && maxInterval !== undefined) {
    const message = `Must be at most exporter.retry.max_interval (${formatDuration(maxInterval)})`;
    rule("exporter.retry.initial_interval", initial > maxInterval, message);
  }
  const isKubeconfigMode = values.get("k8s.mode") === "kubeconfig";
  rule(
    "k8s.kubeconfig",
    isKubeconfigMode && values.get("k8s.kubeconfig") === "",
    "Required when k8s.mode is kubeconfig",
  );
  // Eviction join
  const lineBytes = num("eviction.max_line_size");
  const containerBytes = num("eviction.max_container_size");
  const totalBytes = num("eviction.max_total_size");
  if (containerBytes !== undefined && totalBytes !== undefined) {
    const message = `Must be at most eviction.max_total_size (${formatSize(totalBytes)})`;
    rule("eviction.max_container_size", containerBytes > totalBytes, message);
  }
  if (lineBytes !== undefined && containerBytes !== undefined) {
    const message = `Must be at most eviction.max_container_size (${formatSize(containerBytes)})`;
    rule("eviction.max_line_size", lineBytes > containerBytes, message);
  }
}

function buildConfig(values: Map<string, unknown>): Config {
  const root: Record<string, unknown> = {};
  for (const { spec } of SPECS.values()) {
    const parts = spec.field.split(".");
    let node = root;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]] = values.get(spec.key);
  }
  return deepFreeze(root) as unknown as Config;
}

/** Freezes `value` and everything reachable from it; returns it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const element of Object.values(value)) deepFreeze(element);
    Object.freeze(value);
  }
  return value;
}

// Parses the bounds and defaults once; a schema row that does not validate is our bug.
function compileSchema(): Map<string, CompiledSpec> {
  const specs = new Map<string, CompiledSpec>();
  for (const spec of CONFIG_SCHEMA) {
    if (specs.has(spec.key)) throw new Error(`Config schema lists a key twice: ${spec.key}`);
    const bound = (b: number | string | undefined): number | undefined => {
      if (b === undefined || typeof b === "number") return b;
      const parsed = spec.type === "duration" ? parseDuration(b) : parseSize(b);
      if (!parsed.ok) throw new Error(`Config schema has a bad bound: ${spec.key}: ${b}`);
      return parsed.value;
    };
    const compiled: CompiledSpec = {
      spec,
      min: bound(spec.min),
      max: bound(spec.max),
      defaultValue: undefined,
    };
    const converted = convert(compiled, spec.default);
    if (!converted.ok) {
      const detail = "problems" in converted
        ? converted.problems.map(formatProblem).join("; ")
        : converted.message;
      throw new Error(`Config schema has a bad default: ${spec.key}: ${detail}`);
    }
    compiled.defaultValue = converted.value;
    specs.set(spec.key, compiled);
  }
  return specs;
}
