/**
 * Generates `chart/values.schema.json`, the JSON Schema helm validates the chart's values against: the
 * chart's own values written here, and `config:` generated from {@linkcode CONFIG_SCHEMA} so its types,
 * enums, bounds and units cannot drift from the agent's. `deno task schema` rewrites the file;
 * tests/chart/values_schema_test.ts fails when the committed file differs from what this renders.
 *
 * What JSON Schema cannot say is left to the agent (`--check-config` runs on the rendered config in the
 * tests): bounds of durations and sizes (`"10ms"` vs `"1h"`) are in the description only, and string
 * formats (globs, RE2 patterns, URLs) are checked by the agent's own validators.
 *
 * @module
 */

import { CONFIG_SCHEMA, type OptionSpec, type OptionType } from "./schema.ts";

/** A JSON Schema object (the subset this file writes). */
export type JsonSchema = { [keyword: string]: unknown };

/** Where `deno task schema` writes, relative to the repository root. */
export const VALUES_SCHEMA_PATH = "chart/values.schema.json";

/** An option type this generator does not know how to express; a new type needs a case here. */
export class UnknownOptionTypeError extends Error {
  override name = "UnknownOptionTypeError";
}

const ENV_REF = String.raw`\$\{env:[A-Za-z_][A-Za-z0-9_]*\}`;
/** `<integer><unit>` runs (the agent checks units, their order and the bounds) or a `${env:NAME}`. */
const UNIT_VALUE_PATTERN = String.raw`^\s*([0-9]+[a-zA-Zµ]*)+\s*$|${ENV_REF}`;

const NAMESPACE_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
const SIZE_VALUE: JsonSchema = { type: ["string", "integer"], pattern: UNIT_VALUE_PATTERN, minimum: 0 };
const NULLABLE_SIZE: JsonSchema = { oneOf: [{ type: "null" }, SIZE_VALUE] };

/** One egress budget (src/config/_rate_budget.ts checks the cross-field rules and the sizes' bounds). */
const RATE_BUDGET: JsonSchema = {
  type: "object",
  additionalProperties: false,
  required: ["records_per_second"],
  properties: {
    records_per_second: { type: "number", exclusiveMinimum: 0, description: "Sustained records per second" },
    burst_records: { oneOf: [{ type: "null" }, { type: "integer", minimum: 1 }] },
    bytes_per_second: NULLABLE_SIZE,
    burst_bytes: NULLABLE_SIZE,
    on_limit: { type: "string", enum: ["drop", "delay"], description: "Default: delay" },
  },
};

const strings = { type: "array", items: { type: "string" } };
const stringMap = { type: "object", additionalProperties: { type: "string" } };

/**
 * The JSON Schema of one option's value.
 *
 * @throws {UnknownOptionTypeError} for a type with no case below (a new `OptionType`, e.g. a map of
 *   objects: write its schema here, with `additionalProperties: false` on the objects)
 */
export function optionValueSchema(spec: OptionSpec): JsonSchema {
  const type: OptionType = spec.type;
  switch (type) {
    case "string":
      return { type: "string" };
    case "string_list":
      return strings;
    case "string_map":
      return stringMap;
    case "bool":
      return { type: "boolean" };
    case "int":
      return { type: "integer", minimum: spec.min, maximum: spec.max };
    case "duration":
    case "size":
      // Bare integers: bytes for sizes, only 0 for durations (the agent says so when it is not).
      return SIZE_VALUE;
    case "enum":
      return { type: "string", enum: spec.values };
    case "url":
      return { type: "string" };
    case "listen_address":
      // No pattern: the chart's template fails first with a clearer message when the port is missing.
      return { type: "string" };
    case "rate_budget":
      return { oneOf: [{ type: "null" }, RATE_BUDGET] };
    case "rate_budget_map":
      return {
        type: "object",
        propertyNames: { pattern: NAMESPACE_PATTERN, maxLength: 63 },
        additionalProperties: RATE_BUDGET,
      };
    default: {
      const unknown: never = type;
      throw new UnknownOptionTypeError(
        `Cannot render ${spec.key} into ${VALUES_SCHEMA_PATH}: option type ${
          JSON.stringify(unknown)
        } has no ` +
          `JSON Schema in src/config/render_values_schema.ts (add a case to optionValueSchema)`,
      );
    }
  }
}

function describe(spec: OptionSpec): string {
  const parts = [spec.doc];
  const bounds = spec.min !== undefined || spec.max !== undefined
    ? ` (${spec.min ?? ""}..${spec.max ?? ""})`
    : "";
  if (spec.type === "duration") parts.push(`Duration like 250ms, 5s, 1m30s${bounds}`);
  else if (spec.type === "size") parts.push(`Size like 512KiB, 1MiB${bounds}`);
  else if (spec.unit !== undefined) parts.push(`Unit: ${spec.unit}`);
  parts.push(`Default: ${JSON.stringify(spec.default)}`);
  return parts.join(". ");
}

/** The `config:` part: one property per schema key, nested by its dotted path, no other keys allowed. */
export function configValuesSchema(schema: readonly OptionSpec[] = CONFIG_SCHEMA): JsonSchema {
  const root: JsonSchema = { type: "object", additionalProperties: false, properties: {} };
  for (const spec of schema) {
    const path = spec.key.split(".");
    let node = root;
    for (const group of path.slice(0, -1)) {
      const properties = node.properties as Record<string, JsonSchema>;
      properties[group] ??= { type: "object", additionalProperties: false, properties: {} };
      node = properties[group];
    }
    const value = Object.fromEntries(
      Object.entries(optionValueSchema(spec)).filter(([, v]) => v !== undefined),
    );
    (node.properties as Record<string, JsonSchema>)[path.at(-1)!] = { description: describe(spec), ...value };
  }
  return root;
}

const obj = (properties: Record<string, JsonSchema>, extra: JsonSchema = {}): JsonSchema => ({
  type: "object",
  additionalProperties: false,
  properties,
  ...extra,
});
const str: JsonSchema = { type: "string" };
const bool: JsonSchema = { type: "boolean" };
const anyObject: JsonSchema = { type: "object" };
const objects: JsonSchema = { type: "array", items: { type: "object" } };

/** The chart's own values (everything but `config:`), as chart/values.yaml documents them. */
function chartValuesProperties(): Record<string, JsonSchema> {
  return {
    image: obj({
      repository: { type: "string", minLength: 1 },
      tag: str,
      digest: { type: "string", pattern: "^$|^sha256:[0-9a-f]{64}$" },
      pullPolicy: { type: "string", enum: ["Always", "IfNotPresent", "Never"] },
    }),
    imagePullSecrets: objects,
    nameOverride: str,
    fullnameOverride: str,
    args: strings,
    serviceAccount: obj({ create: bool, name: str, annotations: stringMap }),
    rbac: obj({ create: bool }),
    podLabels: stringMap,
    podAnnotations: stringMap,
    priorityClassName: str,
    terminationGracePeriodSeconds: { type: "integer", minimum: 0 },
    updateStrategy: anyObject,
    resources: anyObject,
    extraEnv: objects,
    envFrom: objects,
    hostPaths: obj({
      podLogs: { type: "string", pattern: "^/" },
      state: { type: "string", pattern: "^/" },
    }),
    nodeSelector: stringMap,
    affinity: anyObject,
    tolerations: objects,
    podMonitor: obj({ enabled: bool, interval: str, additionalLabels: stringMap }),
    prometheusRule: obj({
      enabled: bool,
      runbookBaseUrl: str,
      additionalLabels: stringMap,
      additionalRuleLabels: stringMap,
    }),
    grafanaDashboard: obj({
      enabled: bool,
      labels: stringMap,
      annotations: stringMap,
      namespace: str,
    }),
  };
}

/** The whole `chart/values.schema.json`. */
export function valuesSchema(schema: readonly OptionSpec[] = CONFIG_SCHEMA): JsonSchema {
  return {
    $schema: "https://json-schema.org/draft-07/schema#",
    title: "containerstdout chart values",
    description: `Generated by \`deno task schema\` from src/config/render_values_schema.ts and ` +
      `src/config/schema.ts; do not edit by hand`,
    ...obj({ ...chartValuesProperties(), config: configValuesSchema(schema) }),
  };
}

/** The file's text: two-space JSON and a final newline. */
export function renderValuesSchema(schema: readonly OptionSpec[] = CONFIG_SCHEMA): string {
  return JSON.stringify(valuesSchema(schema), null, 2) + "\n";
}

if (import.meta.main) {
  await Deno.writeTextFile(VALUES_SCHEMA_PATH, renderValuesSchema());
  console.log(`Wrote ${VALUES_SCHEMA_PATH}`);
}
