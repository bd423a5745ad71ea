import assert from "node:assert/strict";
import { type Config, validateConfig } from "../../src/config/mod.ts";

const noEnv = (): undefined => undefined;

function egress(raw: unknown): Config["egressRateLimit"] {
  const result = validateConfig(raw, { env: noEnv });
  assert.ok(result.ok, result.ok ? "" : JSON.stringify(result.errors));
  return result.value.egressRateLimit;
}

const VALID: { name: string; raw: unknown; want: Config["egressRateLimit"] }[] = [
  {
    name: "no egress_rate_limit block limits nothing",
    raw: {},
    want: { default: null, namespaceBudgets: {}, maxKeys: 1000 },
  },
  {
    name: "the example of issue 11 keeps its spellings and values",
    raw: {
      egress_rate_limit: {
        default: {
          records_per_second: 5000,
          bytes_per_second: "8MiB",
          burst_records: 10000,
          on_limit: "delay",
        },
        namespace_budgets: {
          "batch-jobs": { records_per_second: 200, burst_records: 400, on_limit: "drop" },
        },
        max_keys: 1000,
      },
    },
    want: {
      default: {
        recordsPerSecond: 5000,
        burstRecords: 10000,
        bytesPerSecond: 8 * 1024 * 1024,
        burstBytes: 8 * 1024 * 1024,
        onLimit: "delay",
      },
      namespaceBudgets: {
        "batch-jobs": {
          recordsPerSecond: 200,
          burstRecords: 400,
          bytesPerSecond: null,
          burstBytes: null,
          onLimit: "drop",
        },
      },
      maxKeys: 1000,
    },
  },
  {
    name: "a budget with only a rate bursts one second of records, has no byte limit and delays",
    raw: { egress_rate_limit: { namespace_budgets: { quiet: { records_per_second: 2.5 } } } },
    want: {
      default: null,
      namespaceBudgets: {
        quiet: {
          recordsPerSecond: 2.5,
          burstRecords: 3,
          bytesPerSecond: null,
          burstBytes: null,
          onLimit: "delay",
        },
      },
      maxKeys: 1000,
    },
  },
  {
    name: "a fractional rate below one record per second still bursts one record",
    raw: {
      egress_rate_limit: { default: { records_per_second: 0.1, bytes_per_second: 100, burst_bytes: "1KiB" } },
    },
    want: {
      default: {
        recordsPerSecond: 0.1,
        burstRecords: 1,
        bytesPerSecond: 100,
        burstBytes: 1024,
        onLimit: "delay",
      },
      namespaceBudgets: {},
      maxKeys: 1000,
    },
  },
  {
    name: "namespaces that do not exist anywhere are allowed",
    raw: {
      egress_rate_limit: { namespace_budgets: { "no-such-ns-1": { records_per_second: 1 } }, max_keys: 5 },
    },
    want: {
      default: null,
      namespaceBudgets: {
        "no-such-ns-1": {
          recordsPerSecond: 1,
          burstRecords: 1,
          bytesPerSecond: null,
          burstBytes: null,
          onLimit: "delay",
        },
      },
      maxKeys: 5,
    },
  },
];

for (const { name, raw, want } of VALID) {
  Deno.test(`egress_rate_limit config: ${name}`, () => {
    assert.deepEqual(egress(raw), want);
  });
}

Deno.test("egress_rate_limit config validation reports every problem of every budget at once", () => {
  const result = validateConfig({
    egress_rate_limit: {
      default: { records_per_second: 0, on_limit: "block" },
      namespace_budgets: {
        negative: { records_per_second: -5 },
        "zero-burst": { records_per_second: 10, burst_records: 0 },
        "zero-bytes": { records_per_second: 10, bytes_per_second: "0B" },
        "burst-bytes-alone": { records_per_second: 10, burst_bytes: "1MiB" },
        "no-rate": { burst_records: 5 },
        Bad_Name: { records_per_second: 1 },
        typo: { records_per_secnd: 1 },
        "text-rate": { records_per_second: "fast", burst_records: 1.5 },
        "not-a-map": 5,
      },
      max_keys: 0,
    },
  }, { env: noEnv });
  assert.ok(!result.ok);
  const got = result.errors.map((e) => `${e.path}: ${e.message}`).sort();
  assert.deepEqual(got, [
    'egress_rate_limit.default.on_limit: Expected one of drop, delay, got the string "block"',
    "egress_rate_limit.default.records_per_second: Must be greater than 0, got 0",
    "egress_rate_limit.max_keys: Must be at least 1, got 0",
    "egress_rate_limit.namespace_budgets.Bad_Name: Not a namespace name (lowercase letters, digits, -; at most 63)",
    "egress_rate_limit.namespace_budgets.burst-bytes-alone.burst_bytes: Needs bytes_per_second (without it bytes are not limited)",
    "egress_rate_limit.namespace_budgets.negative.records_per_second: Must be greater than 0, got -5",
    "egress_rate_limit.namespace_budgets.no-rate.records_per_second: Required: the sustained rate of the budget",
    "egress_rate_limit.namespace_budgets.not-a-map: Expected a budget mapping {records_per_second, ...}, got number 5",
    "egress_rate_limit.namespace_budgets.text-rate.burst_records: Expected an integer, got number 1.5",
    'egress_rate_limit.namespace_budgets.text-rate.records_per_second: Expected a number, got the string "fast"',
    "egress_rate_limit.namespace_budgets.typo.records_per_secnd: Unknown key, did you mean records_per_second",
    "egress_rate_limit.namespace_budgets.typo.records_per_second: Required: the sustained rate of the budget",
    "egress_rate_limit.namespace_budgets.zero-burst.burst_records: Must be at least 1 record, got 0",
    'egress_rate_limit.namespace_budgets.zero-bytes.bytes_per_second: Must be greater than 0, got "0B"',
  ]);
});

Deno.test("egress_rate_limit config validation names an unknown key of the block with a suggestion", () => {
  const result = validateConfig({ egress_rate_limit: { namespace_budget: {} } }, { env: noEnv });
  assert.ok(!result.ok);
  assert.deepEqual(result.errors, [{
    path: "egress_rate_limit.namespace_budget",
    message: "Unknown key, did you mean egress_rate_limit.namespace_budgets",
  }]);
});

Deno.test("egress_rate_limit config expands ${env:NAME} inside budgets", () => {
  const result = validateConfig(
    { egress_rate_limit: { default: { records_per_second: 1, bytes_per_second: "${env:BUDGET}" } } },
    { env: (name) => name === "BUDGET" ? "2MiB" : undefined },
  );
  assert.ok(result.ok);
  assert.equal(result.value.egressRateLimit.default?.bytesPerSecond, 2 * 1024 * 1024);
});

Deno.test("egress_rate_limit config is deeply frozen", () => {
  const value = egress({ egress_rate_limit: { namespace_budgets: { a: { records_per_second: 1 } } } });
  assert.ok(Object.isFrozen(value.namespaceBudgets));
  assert.ok(Object.isFrozen(value.namespaceBudgets.a));
});
