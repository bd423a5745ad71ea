/**
 * Runs in its own process with the agent's restricted permissions (see informer_process_test.ts):
 * builds the enrichment stage in in-cluster mode, syncs the pod informer, waits for memory to settle
 * and prints one JSON line with the pod count and resident set sizes.
 *
 * Arguments: <token path> <CA path> <expected pod count>
 *
 * @module
 */

import { validateConfig } from "../../src/config/mod.ts";
import { buildEnrichment } from "../../src/enrich/mod.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { KindTracker } from "../../src/telemetry/kinds.ts";
import { Logger } from "../../src/telemetry/log.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";

const [tokenPath, caPath, expected] = Deno.args;
const mib = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;
const rssBeforeMiB = mib(Deno.memoryUsage().rss);
const env = (name: string): string | undefined => Deno.env.get(name);
// In-cluster mode connects to kubernetes.default.svc:443 by name; the fake API server is on loopback.
const apiServer = `https://${env("KUBERNETES_SERVICE_HOST")}:${env("KUBERNETES_SERVICE_PORT")}`;
const validated = validateConfig(
  { k8s: { mode: "in_cluster", api_server: apiServer, token_path: tokenPath, ca_path: caPath } },
  { env },
);
if (!validated.ok) throw new Error(JSON.stringify(validated.errors));
const registry = new MetricsRegistry();
const metrics = createAgentMetrics(registry);
const { informer } = await buildEnrichment({
  config: validated.value,
  metrics,
  kinds: new KindTracker({ registry }),
  logger: new Logger({ write: () => {} }),
  env,
});
if (informer === null) throw new Error("No informer in in-cluster mode");
await informer.start(new AbortController().signal);
const deadline = Date.now() + 10_000;
while (metrics.podsCached.get() !== Number(expected) || !informer.health().isHealthy) {
  if (Date.now() > deadline) throw new Error(`Not synced: ${informer.health().detail}`);
  await new Promise((resolve) => setTimeout(resolve, 10));
}
const samples: number[] = [];
for (let i = 0; i < 10; i++) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  samples.push(Deno.memoryUsage().rss);
}
await informer.stop();
console.log(JSON.stringify({
  pods: metrics.podsCached.get(),
  rssBeforeMiB,
  rssSteadyMiB: mib(samples.at(-1)!),
  rssMaxMiB: mib(Math.max(...samples)),
}));
