/**
 * Reads the YAML config file and validates it. YAML syntax errors and validation problems both become
 * one {@linkcode ConfigError}, with line numbers where the document has them.
 *
 * @module
 */

import { type Document, isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Config } from "./schema.ts";
import {
  ConfigError,
  type ConfigProblem,
  validateConfig,
  type ValidateOptions,
  type ValidateResult,
} from "./validate.ts";

/** Options for {@linkcode loadConfigFile} and {@linkcode parseConfigYaml}. */
export interface LoadConfigOptions extends ValidateOptions {
  /** How the source is named in problems about the file itself. @default "config" */
  sourceName?: string;
}

/**
 * Reads and validates the YAML config at `path`. An empty document (or one of only comments) means all
 * defaults.
 *
 * @throws {ConfigError} when the file cannot be read, is not valid YAML, or fails validation.
 * @example
 * ```ts
 * const config = await loadConfigFile("/etc/containerstdout/config.yaml", { env: (n) => Deno.env.get(n) });
 * ```
 */
export async function loadConfigFile(path: string, options: ValidateOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (thrown) {
    const detail = thrown instanceof Error ? thrown.message : String(thrown);
    throw new ConfigError([{ path, message: `Cannot read config file: ${detail}` }], { cause: thrown });
  }
  const result = parseConfigYaml(text, { ...options, sourceName: path });
  if (!result.ok) throw new ConfigError(result.errors);
  return result.value;
}

/**
 * Parses YAML text and validates it; problems in values carry the line they are on.
 *
 * @example
 * ```ts
 * const r = parseConfigYaml("tail:\n  rescan_interval: 2s\n", { env: () => undefined });
 * // r.ok && r.value.tail.rescanIntervalMs === 2000
 * ```
 */
export function parseConfigYaml(text: string, options: LoadConfigOptions = {}): ValidateResult {
  const sourceName = options.sourceName ?? "config";
  const lineCounter = new LineCounter();
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  } catch (thrown) {
    // npm:yaml reads process.env.LOG_TOKENS for every token and LOG_STREAM for every document; under a
    // permission set that does not list them, Deno throws NotCapable from inside the parser.
    if (!(thrown instanceof Deno.errors.NotCapable)) throw thrown;
    const message = `Cannot parse YAML: ${thrown.message} (the yaml parser reads LOG_TOKENS and LOG_STREAM)`;
    return { ok: false, errors: [{ path: sourceName, message }] };
  }
  const syntaxProblems = [...doc.errors, ...doc.warnings].map((error): ConfigProblem => {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    return {
      path: `${sourceName}:${line}:${col}`,
      message: `YAML syntax error: ${trimPeriod(error.message)}`,
    };
  });
  if (syntaxProblems.length > 0) return { ok: false, errors: syntaxProblems };
  let raw: unknown;
  try {
    // Aliases are expanded here; the library caps their count against alias bombs.
    raw = doc.toJS();
  } catch (thrown) {
    const detail = thrown instanceof Error ? thrown.message : String(thrown);
    return { ok: false, errors: [{ path: sourceName, message: `YAML error: ${trimPeriod(detail)}` }] };
  }
  const result = validateConfig(raw, options);
  if (result.ok) return result;
  const errors = result.errors.map((problem): ConfigProblem => {
    const offset = findOffset(doc.contents, problem.path);
    if (offset === undefined) return problem;
    return { path: problem.path, message: `${problem.message} (line ${lineCounter.linePos(offset).line})` };
  });
  return { ok: false, errors };
}

function trimPeriod(message: string): string {
  const firstLine = message.split("\n")[0];
  return firstLine.endsWith(".") ? firstLine.slice(0, -1) : firstLine;
}

// Finds where a problem's key path is in the document: the key of a mapping entry or the item of a list.
// Header names may contain dots, so at a mapping the longest dotted run that names a key wins.
function findOffset(root: unknown, path: string): number | undefined {
  const tokens = path.match(/\[\d+\]|[^.[\]]+/g) ?? [];
  let node = root;
  let offset: number | undefined;
  for (let i = 0; i < tokens.length; i++) {
    if (isSeq(node) && tokens[i].startsWith("[")) {
      const item = node.items[Number(tokens[i].slice(1, -1))];
      offset = rangeStart(item);
      node = item;
      continue;
    }
    if (!isMap(node)) return undefined;
    const map = node;
    let isFound = false;
    for (let j = tokens.length; j > i && !isFound; j--) {
      const key = tokens.slice(i, j).join(".");
      const pair = map.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
      if (pair === undefined) continue;
      offset = rangeStart(pair.key);
      node = pair.value;
      i = j - 1;
      isFound = true;
    }
    if (!isFound) return undefined;
  }
  return offset;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range?.[0];
}
