import assert from "node:assert/strict";
import { ContainerRates, OtlpMetricsExporter, TrainingSummaries } from "../../src/signals/mod.ts";
import { parsePodLogPath } from "../../src/discovery/mod.ts";
import { createAgentMetrics, TRAINING_TIME_BUCKETS_S } from "../../src/telemetry/agent_metrics.ts";
import { Logger } from "../../src/telemetry/log.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import type { DecodedMetric, DecodedResourceMetrics } from "../_fakes/otlp_metrics_decode.ts";
import { startOtlpSink } from "../_fakes/otlp_sink.ts";

const SCOPE = { name: "containerstdout", version: "test" };

function signals() {
  const summaries = new TrainingSummaries({ bounds: TRAINING_TIME_BUCKETS_S, maxSeries: 8 });
  summaries.observe("llm", "0", 0.02, 0.5);
  summaries.observe("llm", "0", 0.03, 0.5);
  summaries.observe("llm", "1", 0.4, 0.5);
  const rates = new ContainerRates({ maxSeries: 8, windowMs: 1_000, startMs: 0 });
  const path = parsePodLogPath("/var/log/pods/train_llm-0_u1/trainer/0.log");
  assert.ok(path.ok);
  for (let i = 0; i < 30; i++) rates.count(path.value, 100);
  return { summaries, rates };
}

function metricNamed(request: DecodedResourceMetrics[], name: string): DecodedMetric | undefined {
  return request.flatMap((rm) => rm.metrics).find((m) => m.name === name);
}

for (const compression of ["gzip", "zstd", "none"] as const) {
  Deno.test(`OTLP metrics export posts histograms, ratios and rates the receiver decodes (${compression})`, async () => {
    await using sink = await startOtlpSink();
    const { summaries, rates } = signals();
    const metrics = createAgentMetrics(new MetricsRegistry());
    let nowMs = 1_800_000_000_000;
    const exporter = new OtlpMetricsExporter({
      endpoint: `${sink.url}/`,
      headers: { "x-tenant": "t1" },
      compression,
      timeoutMs: 5_000,
      intervalMs: 20,
      snapshot: () => ({
        summaries: summaries.snapshot(),
        rates: rates.snapshot(3_000),
        bounds: summaries.bounds,
      }),
      resourceAttributes: { "k8s.node.name": "node-1" },
      scope: SCOPE,
      metrics,
      logger: new Logger({ write: () => {} }),
      now: () => (nowMs += 1_000),
    });
    await exporter.start(new AbortController().signal);
    try {
      await sink.waitForMetrics((r) => metricNamed(r, "training.dataloader.data_time") !== undefined, {
        timeoutMs: 10_000,
      });
    } finally {
      await exporter.stop();
    }
    const request = sink.metricsRequests[0];
    assert.equal(request.length, 1);
    assert.deepEqual(request[0].resource, { "k8s.node.name": "node-1" });
    assert.equal(request[0].scopeName, "containerstdout");

    const data = metricNamed(request, "training.dataloader.data_time")!;
    assert.equal(data.kind, "histogram");
    assert.equal(data.unit, "s");
    assert.equal(data.temporality, 2); // cumulative
    assert.equal(data.points.length, 2);
    const rank0 = data.points.find((p) => p.attributes["gen_ai.training.rank"] === "0")!;
    assert.deepEqual(rank0.attributes, { "gen_ai.training.job_id": "llm", "gen_ai.training.rank": "0" });
    assert.equal(rank0.count, 2);
    assert.equal(rank0.sum, 0.05);
    assert.deepEqual(rank0.explicitBounds, TRAINING_TIME_BUCKETS_S);
    // 0.02 and 0.03 both fall in (0.01, 0.025] and (0.025, 0.05]: one each.
    assert.deepEqual(rank0.bucketCounts, [0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.ok(rank0.timeUnixNano > rank0.startTimeUnixNano);

    const ratio = metricNamed(request, "training.dataloader.input_bound_ratio")!;
    assert.equal(ratio.kind, "gauge");
    const ratios = Object.fromEntries(
      ratio.points.map((p) => [p.attributes["gen_ai.training.rank"], p.value]),
    );
    assert.deepEqual(ratios, { "0": 0.05, "1": 0.8 });

    const lines = metricNamed(request, "k8s.container.log.record_rate")!;
    assert.deepEqual(lines.points.map((p) => [p.attributes["k8s.pod.name"], p.value]), [["llm-0", 10]]);
    const bytes = metricNamed(request, "k8s.container.log.byte_rate")!;
    assert.deepEqual(bytes.points.map((p) => p.value), [1000]);
    assert.ok(metrics.metricsExportRequests.get("ok") >= 1);
  });
}

Deno.test("OTLP metrics export counts a refused connection and keeps running", async () => {
  const closed = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response());
  const port = closed.addr.port;
  await closed.shutdown();
  const metrics = createAgentMetrics(new MetricsRegistry());
  const { summaries, rates } = signals();
  const exporter = new OtlpMetricsExporter({
    endpoint: `http://127.0.0.1:${port}`,
    headers: {},
    compression: "gzip",
    timeoutMs: 2_000,
    intervalMs: 3_600_000,
    snapshot: (now) => ({
      summaries: summaries.snapshot(),
      rates: rates.snapshot(now),
      bounds: summaries.bounds,
    }),
    resourceAttributes: {},
    scope: SCOPE,
    metrics,
    logger: new Logger({ write: () => {} }),
  });
  await exporter.start(new AbortController().signal);
  assert.equal(await exporter.exportNow(), "network_error");
  await exporter.stop();
  assert.equal(metrics.metricsExportRequests.get("network_error"), 2); // exportNow + the one at stop
  assert.match(exporter.health().detail, /network_error/);
});
