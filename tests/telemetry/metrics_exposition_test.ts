import assert from "node:assert/strict";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { KINDS, KindTracker } from "../../src/telemetry/kinds.ts";
import { Counter, Gauge, MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { runTool } from "../_helpers/validator_tools.ts";

interface ExpositionCase {
  name: string;
  /** Touches series of a registry built with createAgentMetrics and a KindTracker. */
  populate: (registry: MetricsRegistry, kinds: KindTracker) => void;
}

/** Gives every metric one series per label value in `values` (a metric without labels gets its one). */
function touchEverySeries(registry: MetricsRegistry, values: string[]): void {
  for (const metric of registry.list()) {
    if (!(metric instanceof Counter || metric instanceof Gauge)) continue;
    for (const value of values) {
      const labels = metric.labelNames.map(() => value);
      if (metric instanceof Counter) metric.inc(3, ...labels);
      else metric.set(7, ...labels);
    }
  }
}

const CASES: ExpositionCase[] = [
  { name: "a freshly started agent", populate: () => {} },
  {
    name: "every metric with series",
    populate: (registry, kinds) => {
      touchEverySeries(registry, ["drain_deadline", "dropped"]);
      for (const kind of KINDS) kinds.raise(kind, `test reason for ${kind}`);
    },
  },
  {
    name: "label values that need escaping",
    populate: (registry) =>
      touchEverySeries(registry, ['quote " backslash \\ newline \n end', "ünïcödé ✓", ""]),
  },
  {
    name: "non-finite and fractional values",
    populate: (registry) => {
      const metrics = registry.list().filter((m): m is Gauge => m instanceof Gauge);
      const values = [Number.NaN, Infinity, -Infinity, 0.125, 1e21, -3];
      metrics.forEach((gauge, i) => gauge.set(values[i % values.length], ...gauge.labelNames.map(() => "x")));
    },
  },
];

for (const { name, populate } of CASES) {
  Deno.test(`metrics exposition passes promtool check metrics with no lint problems for ${name}`, async () => {
    const registry = new MetricsRegistry();
    createAgentMetrics(registry);
    const kinds = new KindTracker({ registry, now: () => 0 });
    populate(registry, kinds);
    const exposition = registry.render();

    // promtool reads the exposition from stdin; parse errors exit 1, lint problems are printed on stdout
    // (and exit 3 in newer releases). None is tolerated: names, suffixes, units and help text are all ours.
    const result = await runTool("promtool", ["check", "metrics"], { stdin: exposition });
    assert.equal(result.stdout + result.stderr, "", `promtool complained about:\n${exposition}`);
    assert.equal(result.code, 0);
  });
}

Deno.test("metrics exposition names every metric of the catalogue with HELP and TYPE", () => {
  const registry = new MetricsRegistry();
  createAgentMetrics(registry);
  new KindTracker({ registry, now: () => 0 });
  const lines = registry.render().split("\n");
  for (const metric of registry.list()) {
    assert.ok(metric.name.startsWith("containerstdout_"), `${metric.name} lacks the containerstdout_ prefix`);
    assert.ok(lines.includes(`# TYPE ${metric.name} ${metric.type}`), `no TYPE line for ${metric.name}`);
    assert.ok(lines.some((l) => l.startsWith(`# HELP ${metric.name} `)), `no HELP line for ${metric.name}`);
  }
});
