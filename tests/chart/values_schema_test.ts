/**
 * chart/values.schema.json: generated from CONFIG_SCHEMA (committed file == rendering), and enforced by
 * the real helm: wrong types, unknown keys, out-of-range values and bad enums fail `helm template` with a
 * message naming the value's path; the default and every-feature-on renders pass, and the config they
 * render passes the agent's own `--check-config`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { CONFIG_SCHEMA, type OptionSpec } from "../../src/config/mod.ts";
import {
  configValuesSchema,
  renderValuesSchema,
  UnknownOptionTypeError,
  VALUES_SCHEMA_PATH,
} from "../../src/config/render_values_schema.ts";
import { agentPermissionFlags } from "../_helpers/agent_process.ts";
import { REPO_ROOT, runTool, runToolOk } from "../_helpers/validator_tools.ts";

Deno.test("chart values.schema.json is the current rendering of CONFIG_SCHEMA (run deno task schema)", () => {
  const committed = Deno.readTextFileSync(join(REPO_ROOT, VALUES_SCHEMA_PATH));
  assert.equal(committed, renderValuesSchema(), "chart/values.schema.json is stale: run `deno task schema`");
});

Deno.test("values schema gives every CONFIG_SCHEMA key a property at its dotted path", () => {
  const schema = configValuesSchema();
  const missing = CONFIG_SCHEMA.filter((spec) => {
    let node: Record<string, unknown> | undefined = schema;
    for (const part of spec.key.split(".")) {
      node = (node?.properties as Record<string, Record<string, unknown>> | undefined)?.[part];
    }
    return node === undefined || typeof node.description !== "string";
  }).map((spec) => spec.key);
  assert.deepEqual(missing, []);
});

Deno.test("values schema copies enums and integer bounds from CONFIG_SCHEMA", () => {
  const schema = configValuesSchema();
  const at = (key: string): Record<string, unknown> => {
    let node: Record<string, unknown> = schema;
    for (const part of key.split(".")) {
      node = (node.properties as Record<string, Record<string, unknown>>)[part];
    }
    return node;
  };
  for (const spec of CONFIG_SCHEMA) {
    if (spec.type === "enum") assert.deepEqual(at(spec.key).enum, spec.values, spec.key);
    if (spec.type === "int") {
      assert.equal(at(spec.key).minimum, spec.min, spec.key);
      assert.equal(at(spec.key).maximum, spec.max, spec.key);
    }
  }
});

Deno.test("values schema generator fails clearly on an option type it does not know", () => {
  const future = {
    key: "egress_rate_limit.namespace_budgets",
    field: "x",
    type: "budget_map",
    default: {},
    doc: "d",
  };
  assert.throws(
    () => configValuesSchema([future as unknown as OptionSpec]),
    (err: unknown) =>
      err instanceof UnknownOptionTypeError &&
      err.message.includes("egress_rate_limit.namespace_budgets") &&
      err.message.includes('"budget_map"') && err.message.includes("optionValueSchema"),
  );
});

interface RejectCase {
  name: string;
  set: string;
  /** What helm's message must say: the value's path and why. */
  want: RegExp;
}

const REJECT_CASES: RejectCase[] = [
  {
    name: "a wrong type",
    set: "config.tail.max_open_files=many",
    want: /at '\/config\/tail\/max_open_files': got string, want integer/,
  },
  {
    name: "an unknown config key",
    set: "config.tail.max_open_filez=3",
    want: /at '\/config\/tail'.*'max_open_filez'/,
  },
  { name: "an unknown chart key", set: "imagee.tag=x", want: /additional properties 'imagee' not allowed/ },
  {
    name: "an out-of-range value",
    set: "config.exporter.max_concurrent_requests=65",
    want: /at '\/config\/exporter\/max_concurrent_requests': maximum: got 65, want 64/,
  },
  {
    name: "a bad enum",
    set: "config.exporter.compression=brotli",
    want: /at '\/config\/exporter\/compression': value must be one of 'gzip', 'zstd', 'none'/,
  },
  {
    name: "a bad enum inside a namespace budget",
    set: "config.egress_rate_limit.namespace_budgets.ml.on_limit=pause",
    want:
      /at '\/config\/egress_rate_limit\/namespace_budgets\/ml\/on_limit': value must be one of 'drop', 'delay'/,
  },
  {
    name: "an unknown key inside a namespace budget",
    set: "config.egress_rate_limit.namespace_budgets.ml.recs=1",
    want: /at '\/config\/egress_rate_limit\/namespace_budgets\/ml'.*'recs' not allowed/,
  },
  {
    name: "a malformed duration",
    set: "config.batch.max_delay=soon",
    want: /at '\/config\/batch\/max_delay'/,
  },
];

for (const { name, set, want } of REJECT_CASES) {
  Deno.test(`helm template rejects ${name} (${set}) with a message naming the value`, async () => {
    const result = await runTool("helm", ["template", "x", "chart", "--set", set]);
    assert.notEqual(result.code, 0, result.stdout);
    assert.match(result.stderr, want);
  });
}

/** Every optional object and every agent feature the chart can turn on. */
const EVERY_FEATURE_ON = [
  "prometheusRule.enabled=true",
  "podMonitor.enabled=true",
  "grafanaDashboard.enabled=true",
  "config.telemetry.status_allow_remote=true",
  "config.k8s.mode=in_cluster",
  "config.k8s.pod_labels={app,/^team\\.example\\.com\\//}",
  "config.namespaces.exclude={kube-system}",
  "config.exporter.endpoint=http://otel-collector.observability.svc.cluster.local:4318",
  "config.exporter.headers.authorization=Bearer ${env:CONTAINERSTDOUT_OTLP_TOKEN}",
  "config.exporter.retry.max_elapsed=1h",
  "config.start_at=end",
  "config.events.enabled=true",
  "config.eviction.enabled=true",
  "config.egress_rate_limit.default.records_per_second=5000",
  "config.egress_rate_limit.default.bytes_per_second=8MiB",
  "config.egress_rate_limit.namespace_budgets.ml.records_per_second=100",
  "config.egress_rate_limit.namespace_budgets.ml.on_limit=drop",
  "config.json.mode=attributes",
  "config.dataloader.enabled=true",
  "config.exporter.metrics=true",
];

const RENDERS: { name: string; sets: string[] }[] = [
  { name: "the default values", sets: [] },
  { name: "every feature on", sets: EVERY_FEATURE_ON },
];

for (const { name, sets } of RENDERS) {
  Deno.test(`helm template with ${name} passes the values schema and renders a config --check-config accepts`, async () => {
    const yaml = await runToolOk("helm", ["template", "x", "chart", ...sets.flatMap((s) => ["--set", s])]);
    const configMaps = parseAllDocuments(yaml).map((d) => d.toJS()).filter((m) =>
      m?.kind === "ConfigMap" && m.data?.["config.yaml"] !== undefined
    );
    assert.equal(configMaps.length, 1);
    const dir = await Deno.makeTempDir({ prefix: "values_schema_" });
    try {
      await Deno.writeTextFile(`${dir}/config.yaml`, configMaps[0].data["config.yaml"]);
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          ...agentPermissionFlags([dir], []),
          "src/main.ts",
          "--check-config",
          `${dir}/config.yaml`,
        ],
        cwd: REPO_ROOT,
        env: { NO_COLOR: "1", K8S_NODE_NAME: "node-a", CONTAINERSTDOUT_OTLP_TOKEN: "t" },
        stdin: "null",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, stdout + new TextDecoder().decode(out.stderr));
      assert.equal(stdout.trim(), "ok");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
