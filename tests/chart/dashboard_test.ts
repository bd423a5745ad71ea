/**
 * chart/files/dashboard.json: every panel query parses (promtool, as recording rules) and uses only
 * metric names and labels the agent exposes, read from its own catalogue (createAgentMetrics plus the
 * Kind gauges) at test time. The chart ships it as a ConfigMap for Grafana's sidecar, off by default.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { KindTracker } from "../../src/telemetry/kinds.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { REPO_ROOT, runTool, runToolOk } from "../_helpers/validator_tools.ts";

interface Target {
  expr: string;
  refId: string;
}

interface Panel {
  title: string;
  type: string;
  targets: Target[];
}

interface Query {
  panel: string;
  refId: string;
  expr: string;
}

const DASHBOARD_PATH = "chart/files/dashboard.json";

/** Labels Prometheus adds to every scraped series (scrape config and the chart's PodMonitor relabeling). */
const TARGET_LABELS = new Set(["instance", "job", "node", "pod", "namespace", "container"]);

/**
 * Metrics other open issues add under names not final yet (issue 11: rate limiter, issue 10:
 * dataloader). Each must be missing from the catalogue: when one lands under this name, drop it here;
 * under another name, fix the dashboard. Empty once every issue has merged.
 */
const PENDING_METRICS: ReadonlyMap<string, string> = new Map([]);

function queries(): Query[] {
  const dashboard = JSON.parse(Deno.readTextFileSync(join(REPO_ROOT, DASHBOARD_PATH)));
  return (dashboard.panels as Panel[]).flatMap((panel) =>
    panel.targets.map((t) => ({ panel: panel.title, refId: t.refId, expr: t.expr }))
  );
}

/** Grafana's variables replaced by what Prometheus itself accepts. */
function toPromQl(expr: string): string {
  return expr.replaceAll("$__rate_interval", "5m").replaceAll("$__interval", "1m");
}

/** Metric name -> its label names, from the agent's own catalogue. */
function catalogue(): Map<string, ReadonlySet<string>> {
  const registry = new MetricsRegistry();
  createAgentMetrics(registry);
  new KindTracker({ registry, now: () => 0 });
  const out = new Map<string, ReadonlySet<string>>();
  for (const m of registry.list()) {
    const labels = (m as { labelNames?: readonly string[] }).labelNames ?? [];
    out.set(m.name, new Set(labels));
    if ((m.type as string) === "histogram") {
      // What a histogram exposes: one series family per suffix, buckets with `le`.
      out.set(`${m.name}_bucket`, new Set([...labels, "le"]));
      out.set(`${m.name}_sum`, new Set(labels));
      out.set(`${m.name}_count`, new Set(labels));
    }
  }
  return out;
}

const METRIC_RE = /\b(containerstdout_[a-z0-9_]+)(\{[^}]*\})?/g;

function metricsOf(expr: string): { name: string; matchers: string[] }[] {
  return [...expr.matchAll(METRIC_RE)].map((m) => ({
    name: m[1],
    matchers: [...(m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((x) => x[1]),
  }));
}

function groupingLabelsOf(expr: string): string[] {
  return [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) =>
    m[1].split(",").map((s) => s.trim()).filter((s) => s !== "")
  );
}

Deno.test("dashboard has at least one query per panel and every panel the issue asks for", () => {
  const dashboard = JSON.parse(Deno.readTextFileSync(join(REPO_ROOT, DASHBOARD_PATH)));
  const panels = dashboard.panels as Panel[];
  for (const panel of panels) assert.ok(panel.targets.length > 0, `panel ${panel.title} has no query`);
  const all = queries().map((q) => q.expr).join("\n");
  for (
    const metric of [
      "containerstdout_lines_read_total",
      "containerstdout_export_records_total",
      "containerstdout_read_lag_bytes",
      "containerstdout_inflight_bytes",
      "containerstdout_export_requests_total",
      "containerstdout_export_retries_total",
      "containerstdout_lost_bytes_total",
      "containerstdout_degraded",
      "containerstdout_process_resident_memory_bytes",
      "containerstdout_process_cpu_seconds_total",
    ]
  ) assert.match(all, new RegExp(`\\b${metric}\\b`), `no panel shows ${metric}`);
});

Deno.test("every dashboard query parses with promtool", async () => {
  const rules = {
    groups: [{
      name: "dashboard",
      rules: queries().map((q, i) => ({ record: `dashboard:query_${i}`, expr: toPromQl(q.expr) })),
    }],
  };
  const dir = await Deno.makeTempDir({ prefix: "dashboard_rules_" });
  try {
    await Deno.writeTextFile(`${dir}/rules.json`, JSON.stringify(rules));
    const result = await runTool("promtool", ["check", "rules", `${dir}/rules.json`]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every dashboard query uses only metric names the agent exposes (or names pending in open issues)", () => {
  const known = catalogue();
  const missing = queries().flatMap((q) =>
    metricsOf(q.expr).filter((m) => !known.has(m.name) && !PENDING_METRICS.has(m.name))
      .map((m) => `${m.name} (panel "${q.panel}" ${q.refId})`)
  );
  assert.deepEqual([...new Set(missing)], [], "dashboard metric names the agent's catalogue lacks");
});

Deno.test("pending dashboard metric names are still missing from the catalogue", () => {
  const known = catalogue();
  const landed = [...PENDING_METRICS.keys()].filter((name) => known.has(name));
  assert.deepEqual(landed, [], "these metrics exist now: remove them from PENDING_METRICS");
  const used = new Set(queries().flatMap((q) => metricsOf(q.expr).map((m) => m.name)));
  assert.deepEqual([...PENDING_METRICS.keys()].filter((name) => !used.has(name)), []);
  // Every open issue has merged (issue 12): nothing may stay pending.
  assert.equal(PENDING_METRICS.size, 0, `pending: ${[...PENDING_METRICS.keys()].join(", ")}`);
});

Deno.test("every dashboard query uses only labels its metrics carry or Prometheus adds", () => {
  const known = catalogue();
  const wrong = queries().flatMap((q) => {
    const metrics = metricsOf(q.expr);
    if (metrics.some((m) => !known.has(m.name))) return []; // pending metric: labels checked once it lands
    const labels = new Set([...TARGET_LABELS, ...metrics.flatMap((m) => [...known.get(m.name)!])]);
    const used = [...metrics.flatMap((m) => m.matchers), ...groupingLabelsOf(q.expr)];
    return used.filter((l) => !labels.has(l)).map((l) => `label ${l} (panel "${q.panel}" ${q.refId})`);
  });
  assert.deepEqual(wrong, []);
});

Deno.test("chart renders the dashboard ConfigMap for Grafana's sidecar only when enabled", async () => {
  const off = await runToolOk("helm", ["template", "x", "chart"]);
  assert.doesNotMatch(off, /containerstdout\.json/);
  const on = await runToolOk("helm", [
    "template",
    "x",
    "chart",
    "--set",
    "grafanaDashboard.enabled=true",
    "--set",
    "grafanaDashboard.annotations.grafana_folder=Logging",
  ]);
  const cm = parseAllDocuments(on).map((d) => d.toJS()).find((m) =>
    m?.metadata?.name === "x-containerstdout-dashboard"
  );
  assert.ok(cm !== undefined, "no dashboard ConfigMap");
  assert.equal(cm.kind, "ConfigMap");
  assert.equal(cm.metadata.labels.grafana_dashboard, "1");
  assert.equal(cm.metadata.annotations.grafana_folder, "Logging");
  assert.deepEqual(
    JSON.parse(cm.data["containerstdout.json"]),
    JSON.parse(Deno.readTextFileSync(join(REPO_ROOT, DASHBOARD_PATH))),
  );
  const lint = await runTool("helm", ["lint", "--strict", "chart", "--set", "grafanaDashboard.enabled=true"]);
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
});
