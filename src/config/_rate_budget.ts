/**
 * Validation of the egress budget objects (issue 11): `egress_rate_limit.default` and each entry of
 * `egress_rate_limit.namespace_budgets`. The flat option table cannot describe a map of objects, so these
 * two option types have this dedicated checker; it reports every problem of every budget at once.
 *
 * @module
 */

import { closestMatch } from "./_suggest.ts";
import { describeValue, isMapping } from "./_values.ts";
import type { RateBudget } from "./schema.ts";
import { parseSize } from "./units.ts";
import type { ConfigProblem } from "./validate.ts";

/** The fields of one budget, as written in YAML. */
export const RATE_BUDGET_FIELDS: readonly string[] = [
  "records_per_second",
  "bytes_per_second",
  "burst_records",
  "burst_bytes",
  "on_limit",
];

const ON_LIMIT_VALUES = ["drop", "delay"] as const;
const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A converted budget or map of budgets, or every problem found in it. */
export type BudgetOutcome<T> = { ok: true; value: T } | { ok: false; problems: ConfigProblem[] };

/**
 * Checks one budget mapping at `path`.
 *
 * @example
 * ```ts
 * convertRateBudget("egress_rate_limit.default", { records_per_second: 200, on_limit: "drop" });
 * // { ok: true, value: { recordsPerSecond: 200, burstRecords: 200, bytesPerSecond: null, ... } }
 * ```
 */
export function convertRateBudget(path: string, value: unknown): BudgetOutcome<RateBudget> {
  if (!isMapping(value)) {
    return fail(path, `Expected a budget mapping {records_per_second, ...}, got ${describeValue(value)}`);
  }
  const problems: ConfigProblem[] = [];
  const at = (field: string): string => `${path}.${field}`;
  for (const name of Object.keys(value)) {
    if (RATE_BUDGET_FIELDS.includes(name)) continue;
    const suggestion = closestMatch(name, RATE_BUDGET_FIELDS);
    problems.push({
      path: at(name),
      message: suggestion === undefined ? "Unknown key" : `Unknown key, did you mean ${suggestion}`,
    });
  }
  const recordsPerSecond = positiveNumber(value.records_per_second, at("records_per_second"), problems);
  const bytesPerSecond = optionalSize(value.bytes_per_second, at("bytes_per_second"), 0, problems);
  const burstRecords = burst(value.burst_records, at("burst_records"), problems);
  const burstBytes = optionalSize(value.burst_bytes, at("burst_bytes"), 1, problems);
  if (value.burst_bytes !== undefined && value.burst_bytes !== null && isAbsent(value.bytes_per_second)) {
    problems.push({
      path: at("burst_bytes"),
      message: "Needs bytes_per_second (without it bytes are not limited)",
    });
  }
  const onLimit = value.on_limit ?? "delay";
  if (!(ON_LIMIT_VALUES as readonly unknown[]).includes(onLimit)) {
    problems.push({
      path: at("on_limit"),
      message: `Expected one of drop, delay, got ${describeValue(onLimit)}`,
    });
  }
  if (problems.length > 0 || recordsPerSecond === undefined) return { ok: false, problems };
  return {
    ok: true,
    value: {
      recordsPerSecond,
      // One second's worth by default, at least one record so that the budget can pass anything.
      burstRecords: burstRecords ?? Math.max(1, Math.ceil(recordsPerSecond)),
      bytesPerSecond: bytesPerSecond ?? null,
      burstBytes: bytesPerSecond === undefined ? null : burstBytes ?? bytesPerSecond,
      onLimit: onLimit as RateBudget["onLimit"],
    },
  };
}

/** Checks a mapping of namespace name to budget at `path`; names are not checked against the cluster. */
export function convertRateBudgetMap(
  path: string,
  value: unknown,
): BudgetOutcome<Record<string, RateBudget>> {
  if (!isMapping(value)) {
    return fail(path, `Expected a mapping of namespace to budget, got ${describeValue(value)}`);
  }
  const problems: ConfigProblem[] = [];
  const out: Record<string, RateBudget> = {};
  for (const [namespace, budget] of Object.entries(value)) {
    const at = `${path}.${namespace}`;
    if (namespace.length > 63 || !NAMESPACE_RE.test(namespace)) {
      problems.push({ path: at, message: "Not a namespace name (lowercase letters, digits, -; at most 63)" });
    }
    const converted = convertRateBudget(at, budget);
    if (converted.ok) out[namespace] = converted.value;
    else problems.push(...converted.problems);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: out };
}

function positiveNumber(value: unknown, path: string, problems: ConfigProblem[]): number | undefined {
  if (isAbsent(value)) {
    problems.push({ path, message: "Required: the sustained rate of the budget" });
    return undefined;
  }
  if (typeof value !== "number" || !Number.isFinite(value)) {
    problems.push({ path, message: `Expected a number, got ${describeValue(value)}` });
    return undefined;
  }
  if (!(value > 0)) {
    problems.push({ path, message: `Must be greater than 0, got ${value}` });
    return undefined;
  }
  return value;
}

function burst(value: unknown, path: string, problems: ConfigProblem[]): number | undefined {
  if (isAbsent(value)) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    problems.push({ path, message: `Expected an integer, got ${describeValue(value)}` });
    return undefined;
  }
  if (value < 1) {
    problems.push({ path, message: `Must be at least 1 record, got ${value}` });
    return undefined;
  }
  return value;
}

// A size like 8MiB; `atLeast` 0 means a rate (must be > 0), 1 a burst (must be >= 1 byte).
function optionalSize(
  value: unknown,
  path: string,
  atLeast: 0 | 1,
  problems: ConfigProblem[],
): number | undefined {
  if (isAbsent(value)) return undefined;
  if (typeof value !== "string" && typeof value !== "number") {
    problems.push({ path, message: `Expected a size like 512KiB or 8MiB, got ${describeValue(value)}` });
    return undefined;
  }
  const parsed = parseSize(value);
  if (!parsed.ok) {
    problems.push({ path, message: `Invalid size ${JSON.stringify(value)}: ${parsed.detail}` });
    return undefined;
  }
  if (atLeast === 0 ? !(parsed.value > 0) : parsed.value < 1) {
    const message = atLeast === 0 ? "Must be greater than 0" : "Must be at least 1B";
    problems.push({ path, message: `${message}, got ${JSON.stringify(value)}` });
    return undefined;
  }
  return parsed.value;
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null;
}

function fail(path: string, message: string): BudgetOutcome<never> {
  return { ok: false, problems: [{ path, message }] };
}
