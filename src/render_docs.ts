/**
 * Regenerates the documentation that is derived from code: docs/configuration.md and the option and
 * metric tables in README.md (between `deno-fmt-ignore` markers). Run `deno task docs` after changing
 * the config schema or the metric catalogue; tests/readme_test.ts fails while they are stale.
 *
 * @module
 */

import { CONFIG_SCHEMA } from "./config/mod.ts";
import { REFERENCE_URL, renderReference, renderTable } from "./config/render_reference.ts";
import { createAgentMetrics } from "./telemetry/agent_metrics.ts";
import { KindTracker } from "./telemetry/kinds.ts";
import { MetricsRegistry } from "./telemetry/metrics.ts";

/** The README, relative to this file. */
export const README_URL: URL = new URL("../README.md", import.meta.url);

/** Every metric the agent exposes: name, type, labels and help. */
export function renderMetricsTable(): string {
  const registry = new MetricsRegistry();
  createAgentMetrics(registry);
  new KindTracker({ registry });
  const rows = registry.list().map((m) => {
    const labels = "labelNames" in m ? (m.labelNames as string[]).join(", ") : "";
    return `| \`${m.name}\` | ${m.type} | ${labels} | ${m.help} |`;
  });
  return ["| Metric | Type | Labels | Meaning |", "|---|---|---|---|", ...rows].join("\n") + "\n";
}

/** Replaces the text between `<!-- deno-fmt-ignore-start --><!-- NAME -->` and the next end marker. */
export function replaceSection(text: string, name: string, body: string): string {
  const start = `<!-- deno-fmt-ignore-start -->\n<!-- ${name} -->\n`;
  const end = "<!-- deno-fmt-ignore-end -->";
  const i = text.indexOf(start);
  if (i < 0) throw new Error(`README section ${name} not found`);
  const j = text.indexOf(end, i + start.length);
  if (j < 0) throw new Error(`README section ${name} has no end marker`);
  return text.slice(0, i + start.length) + body + text.slice(j);
}

/** The README with its generated sections brought up to date. */
export function renderReadme(current: string): string {
  let text = replaceSection(current, "options", renderTable(CONFIG_SCHEMA));
  text = replaceSection(text, "metrics", renderMetricsTable());
  return text;
}

if (import.meta.main) {
  await Deno.writeTextFile(REFERENCE_URL, renderReference(CONFIG_SCHEMA));
  await Deno.writeTextFile(README_URL, renderReadme(await Deno.readTextFile(README_URL)));
  console.log("Wrote docs/configuration.md and README.md tables");
}
