import assert from "node:assert/strict";
import { parsePodLogPath } from "../../src/discovery/mod.ts";
import { ContainerRates, SignalPublisher, TrainingSummaries } from "../../src/signals/mod.ts";
import { createAgentMetrics, TRAINING_TIME_BUCKETS_S } from "../../src/telemetry/agent_metrics.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { runTool } from "../_helpers/validator_tools.ts";

function podPath(pod: string) {
  const parsed = parsePodLogPath(`/var/log/pods/train_${pod}_u1/main/0.log`);
  assert.ok(parsed.ok);
  return parsed.value;
}

Deno.test("signal metrics render histograms and gauges that promtool accepts without lint problems", async () => {
  const registry = new MetricsRegistry();
  const metrics = createAgentMetrics(registry);
  const summaries = new TrainingSummaries({ bounds: TRAINING_TIME_BUCKETS_S, maxSeries: 2 });
  summaries.observe('job "quoted" \\ x', "0", 0.02, 0.4);
  summaries.observe("job-b", "1", 0.3, null);
  summaries.observe("job-c", "2", 0.1, 0.2); // past the ceiling: other
  const rates = new ContainerRates({ maxSeries: 10, windowMs: 1_000, startMs: 0 });
  rates.count(podPath("a"), 100);
  const publisher = new SignalPublisher(metrics);
  publisher.publishSummaries(summaries.snapshot());
  publisher.publishRates(rates.snapshot(1_000));
  const exposition = registry.render();

  assert.match(
    exposition,
    /containerstdout_training_dataloader_data_time_seconds_bucket\{job="job \\"quoted\\" \\\\ x",rank="0",le="0\.025"\} 1/,
  );
  assert.match(
    exposition,
    /containerstdout_training_dataloader_data_time_seconds_count\{job="other",rank="other"\} 1/,
  );
  assert.match(
    exposition,
    /containerstdout_training_dataloader_input_bound_ratio\{job="other",rank="other"\} 0\.5/,
  );
  assert.doesNotMatch(exposition, /input_bound_ratio\{job="job-b"/); // no paired step yet
  assert.match(
    exposition,
    /containerstdout_container_lines_per_second\{namespace="train",pod="a",container="main"\} 1/,
  );

  const result = await runTool("promtool", ["check", "metrics"], { stdin: exposition });
  assert.equal(result.stdout + result.stderr, "", `promtool complained about:\n${exposition}`);
});

Deno.test("signal publisher removes the rate series of a forgotten container", () => {
  const registry = new MetricsRegistry();
  const metrics = createAgentMetrics(registry);
  const rates = new ContainerRates({ maxSeries: 10, windowMs: 1_000, idleWindows: 1, startMs: 0 });
  const publisher = new SignalPublisher(metrics);
  rates.count(podPath("gone"), 1);
  publisher.publishRates(rates.snapshot(1_000));
  assert.match(registry.render(), /pod="gone"/);
  publisher.publishRates(rates.snapshot(2_000));
  assert.doesNotMatch(registry.render(), /pod="gone"/);
});
