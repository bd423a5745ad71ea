import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "yaml";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { KINDS, KindTracker } from "../../src/telemetry/kinds.ts";
import { Counter, Gauge, MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { REPO_ROOT, runTool } from "../_helpers/validator_tools.ts";

const RULES_PATH = "chart/files/alerts.yaml";
const RULE_TESTS_PATH = "docs/alerts_test.yaml";
const RUNBOOK_PATH = "docs/RUNBOOK.md";
/** The runbook base every rule links to; the chart's PrometheusRule swaps it for prometheusRule.runbookBaseUrl. */
const RUNBOOK_BASE_URL = "https://github.com/containerstdout/containerstdout/blob/main/docs/RUNBOOK.md";

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface RuleTestCase {
  alertname: string;
  exp_alerts?: unknown[];
}

function readRepoFile(path: string): string {
  return Deno.readTextFileSync(join(REPO_ROOT, path));
}

function loadRules(): AlertRule[] {
  const doc = parse(readRepoFile(RULES_PATH)) as { groups: { rules: AlertRule[] }[] };
  return doc.groups.flatMap((group) => group.rules);
}

function loadRuleTests(): { ruleFiles: string[]; cases: RuleTestCase[] } {
  const doc = parse(readRepoFile(RULE_TESTS_PATH)) as {
    rule_files: string[];
    tests: { alert_rule_test?: RuleTestCase[] }[];
  };
  return { ruleFiles: doc.rule_files, cases: doc.tests.flatMap((t) => t.alert_rule_test ?? []) };
}

/** The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to hyphens. */
function headingAnchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

function runbookAnchors(): Set<string> {
  const headings = readRepoFile(RUNBOOK_PATH).split("\n").filter((l) => /^#{1,6} /.test(l));
  return new Set(headings.map((l) => headingAnchor(l.replace(/^#+ /, ""))));
}

function kindOfRule(rule: AlertRule): string | undefined {
  return /containerstdout_degraded\{kind="([A-Za-z]+)"\}/.exec(rule.expr)?.[1];
}

Deno.test("promtool check rules accepts chart/files/alerts.yaml", async () => {
  const result = await runTool("promtool", ["check", "rules", RULES_PATH]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /SUCCESS: \d+ rules found/);
});

Deno.test("promtool test rules passes every alert unit test in docs/alerts_test.yaml", async () => {
  const result = await runTool("promtool", ["test", "rules", RULE_TESTS_PATH]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
});

Deno.test("alert unit tests load exactly the chart's rules file", () => {
  const { ruleFiles } = loadRuleTests();
  assert.deepEqual(ruleFiles.map((f) => join("docs", f)), [RULES_PATH]);
});

for (const kind of KINDS) {
  Deno.test(`degraded-state Kind ${kind} has one alert on its gauge and a runbook section`, () => {
    const rules = loadRules().filter((rule) => kindOfRule(rule) === kind);
    assert.equal(rules.length, 1, `alerts on containerstdout_degraded{kind="${kind}"}: ${rules.length}`);
    assert.equal(rules[0].alert, `Containerstdout${kind}`);
    assert.ok(runbookAnchors().has(headingAnchor(kind)), `${RUNBOOK_PATH} has no "### ${kind}" section`);
    assert.equal(rules[0].annotations?.runbook_url, `${RUNBOOK_BASE_URL}#${headingAnchor(kind)}`);
  });
}

const LOSS_AND_AVAILABILITY: { name: string; pattern: RegExp }[] = [
  { name: "lost log bytes", pattern: /increase\(containerstdout_lost_bytes_total\[/ },
  {
    name: "records dropped on export",
    pattern: /increase\(containerstdout_export_records_total\{outcome=~?"[^"]*dropped[^"]*"\}\[/,
  },
  { name: "the agent being down", pattern: /^up\{job=~?"[^"]*containerstdout[^"]*"\} == 0$/ },
];

for (const { name, pattern } of LOSS_AND_AVAILABILITY) {
  Deno.test(`alerts include one on ${name}`, () => {
    const matching = loadRules().filter((rule) => pattern.test(rule.expr.trim()));
    assert.equal(matching.length, 1, `rules matching ${pattern}: ${matching.map((r) => r.alert).join(", ")}`);
  });
}

for (const rule of loadRules()) {
  Deno.test(`alert ${rule.alert} links an existing runbook section and has a severity and text`, () => {
    const url = rule.annotations?.runbook_url ?? "";
    assert.ok(url.startsWith(`${RUNBOOK_BASE_URL}#`), `runbook_url ${url} is not under ${RUNBOOK_BASE_URL}`);
    const anchor = url.slice(url.indexOf("#") + 1);
    assert.ok(runbookAnchors().has(anchor), `${RUNBOOK_PATH} has no section with anchor #${anchor}`);
    assert.ok(
      ["warning", "critical"].includes(rule.labels?.severity ?? ""),
      `severity ${rule.labels?.severity}`,
    );
    assert.ok((rule.annotations?.summary ?? "") !== "", "no summary");
    assert.ok((rule.annotations?.description ?? "") !== "", "no description");
  });

  Deno.test(`alert ${rule.alert} has a unit test where it fires and one where it stays silent`, () => {
    const cases = loadRuleTests().cases.filter((c) => c.alertname === rule.alert);
    assert.ok(cases.some((c) => (c.exp_alerts ?? []).length > 0), "no case where it fires");
    assert.ok(cases.some((c) => (c.exp_alerts ?? []).length === 0), "no case where it stays silent");
  });
}

Deno.test("alerts only use metrics and labels the agent exposes", () => {
  const registry = new MetricsRegistry();
  createAgentMetrics(registry);
  new KindTracker({ registry, now: () => 0 });
  const labelsByName = new Map<string, readonly string[]>();
  for (const metric of registry.list()) {
    if (metric instanceof Counter || metric instanceof Gauge) {
      labelsByName.set(metric.name, metric.labelNames);
    }
  }
  for (const rule of loadRules()) {
    for (const match of rule.expr.matchAll(/(containerstdout_[a-z_]+)(?:\{([^}]*)\})?/g)) {
      const [, name, matchers] = match;
      assert.ok(labelsByName.has(name), `${rule.alert} uses ${name}, which the agent does not expose`);
      for (const label of (matchers ?? "").matchAll(/([a-z_]+)\s*=~?/g)) {
        assert.ok(
          labelsByName.get(name)!.includes(label[1]),
          `${rule.alert}: ${name} has no label ${label[1]}`,
        );
      }
    }
  }
});
