/**
 * Renders docs/configuration.md from the option table (`CONFIG_SCHEMA`). Run `deno task docs` (src/render_docs.ts,
 * which also renders the README tables) after changing the schema; a test fails while the checked-in file
 * is stale.
 *
 * @module
 */

import { stringify } from "yaml";
import { NODE_NAME_ENV, type OptionDefault, type OptionSpec } from "./schema.ts";

/** Where the rendered reference is checked in, relative to this file. */
export const REFERENCE_URL: URL = new URL("../../docs/configuration.md", import.meta.url);

/**
 * The whole configuration reference as Markdown: syntax, the option table, cross-field rules and the
 * default config as YAML.
 *
 * @example
 * ```ts
 * const markdown = renderReference(CONFIG_SCHEMA);
 * ```
 */
export function renderReference(schema: readonly OptionSpec[]): string {
  return [INTRO, renderTable(schema), RULES, renderDefaultsYaml(schema)].join("\n");
}

const INTRO = `<!-- deno-fmt-ignore-file -->

# Configuration reference

<!-- Generated from src/config/schema.ts by src/config/render_reference.ts; do not edit by hand. -->

The agent reads one YAML file given with \`--config FILE\`; without it, or when the file is empty, every
option takes its default. \`--check-config FILE\` validates a file and prints \`ok\` (exit 0) or every
problem as \`<key path>: <message>\` (exit 2). \`--kubeconfig FILE\` sets \`k8s.kubeconfig\` and turns
\`k8s.mode: auto\` into \`kubeconfig\`.

Validation is strict and reports all problems at once: unknown keys (with a suggestion for near misses),
wrong types, bad units, values out of range, unknown enum values and the rules across options below.

## Value syntax

- **Durations**: integers with units \`h\`, \`m\`, \`s\`, \`ms\`, largest first: \`250ms\`, \`2s\`, \`1m30s\`,
  \`1h\`. Only \`0\` may be written without a unit. No fractions: \`1500ms\`, not \`1.5s\`.
- **Sizes**: an integer with \`B\`, binary \`KiB\`, \`MiB\`, \`GiB\`, \`TiB\` or decimal \`KB\`, \`MB\`, \`GB\`,
  \`TB\`: \`512B\`, \`16KiB\`, \`10KB\`. A bare integer means bytes.
- **Environment**: \`\${env:NAME}\` in any string value (list items and header values too) is replaced by
  the variable's value; an unset variable is an error naming the key. \`$\${\` writes a literal \`\${\`.
- **Unset**: a key that is absent or \`null\` takes its default.
- **URLs**: \`http://\` or \`https://\`, no credentials, query or fragment; a trailing \`/\` is dropped.

## Options

Ranges are inclusive. \`node_name\` left empty reads \`${NODE_NAME_ENV}\`; \`k8s.kubeconfig\` left empty
reads \`KUBECONFIG\`.
`;

const RULES = `## Rules across options

- \`memory_limit\` must be at least 4 x \`max_log_size\`.
- \`batch.max_bytes\` must be at most \`memory_limit\`.
- \`tail.max_open_files\` must be at most \`tail.max_tracked_files\`.
- \`exporter.retry.initial_interval\` must be at most \`exporter.retry.max_interval\`.
- \`k8s.mode: kubeconfig\` needs \`k8s.kubeconfig\` (or \`KUBECONFIG\`, or \`--kubeconfig\`).
- \`exporter.endpoint\` is a base URL, optionally with a path prefix; it must not end in \`/v1/logs\`.
- \`exporter.headers\` cannot set \`content-type\`, \`content-encoding\`, \`content-length\`, \`host\` or
  \`transfer-encoding\`; names are HTTP tokens, unique ignoring case.
- \`attribution.rank_source\` entries: \`body\`, \`completion_index\`, \`env:<NAME>\`, \`label:<key>\`,
  \`annotation:<key>\`; \`attribution.job_id_source\` takes the same without \`body\`. No duplicates.
- \`attribution.process_rank_regex\` is non-empty, at most 1024 characters and has a group named \`rank\`
  (\`(?P<rank>...)\` or \`(?<rank>...)\`); it is compiled as RE2 at startup.
- \`dataloader.patterns\` entries are non-empty, at most 512 characters, and have a group named
  \`data_time_s\` or \`iter_time_s\`; \`--check-config\` and startup compile each as RE2.
- \`include\`/\`exclude\` are absolute patterns with \`*\`, \`**\` (a whole segment) and \`?\` only;
  \`namespaces.*\` entries are namespace names, optionally with \`*\`.
- \`k8s.pod_labels\`/\`k8s.pod_annotations\` entries are metadata keys (\`[prefix/]name\`) or \`/regex/\`.
- \`egress_rate_limit.default\` and each \`egress_rate_limit.namespace_budgets.<namespace>\` is a budget:
  \`records_per_second\` (required, > 0, fractions allowed), \`bytes_per_second\` (a size per second, > 0,
  counted as record body bytes plus a small fixed overhead per record; absent: no byte limit), \`burst_records\` (an integer >= 1; default one second of records), \`burst_bytes\`
  (a size >= 1B, only with \`bytes_per_second\`; default one second of bytes) and \`on_limit\` (\`drop\`:
  the excess is dropped and counted per namespace, its bytes count as done for the cursor; \`delay\`, the
  default: the namespace's files are not read until tokens return, nothing is lost). A namespace without an
  entry uses \`default\`; with neither, or with no \`egress_rate_limit\` block, nothing is limited.
  Namespace names are not checked against the cluster; a budget inherits nothing from \`default\`.
`;

/** The option table alone (key, type, default, range, description), as in the README. */
export function renderTable(schema: readonly OptionSpec[]): string {
  const rows = schema.map((spec) =>
    `| \`${spec.key}\` | ${spec.type} | ${cell(showDefault(spec.default))} | ${cell(showRange(spec))} | ` +
    `${escapePipes(spec.doc)} |`
  );
  return ["| Key | Type | Default | Range | Description |", "|---|---|---|---|---|", ...rows].join("\n") +
    "\n";
}

function showDefault(value: OptionDefault): string {
  if (value === null) return "null";
  if (typeof value === "string") return value === "" ? '""' : value;
  if (Array.isArray(value)) return value.length === 0 ? "[]" : value.join(", ");
  if (typeof value === "object") return Object.keys(value).length === 0 ? "{}" : JSON.stringify(value);
  return String(value);
}

function showRange(spec: OptionSpec): string {
  if (spec.values !== undefined) return spec.values.join(", ");
  if (spec.min === undefined && spec.max === undefined) return "";
  const unit = spec.type === "int" && spec.unit !== undefined ? ` ${spec.unit}` : "";
  return `${spec.min ?? ""}..${spec.max ?? ""}${unit}`;
}

function cell(text: string): string {
  return text === "" ? "" : `\`${escapePipes(text)}\``;
}

function escapePipes(text: string): string {
  return text.replaceAll("|", "\\|");
}

function renderDefaultsYaml(schema: readonly OptionSpec[]): string {
  const root: Record<string, unknown> = {};
  for (const spec of schema) {
    const parts = spec.key.split(".");
    let node = root;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]] = spec.default;
  }
  const yaml = stringify(root, { lineWidth: 0 });
  return `## Defaults as YAML\n\nThe agent runs with exactly this when no config file is given.\n\n\`\`\`yaml\n${yaml}\`\`\`\n`;
}
