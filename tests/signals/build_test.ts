import assert from "node:assert/strict";
import { validateConfig } from "../../src/config/mod.ts";
import { parsePodLogPath } from "../../src/discovery/mod.ts";
import { encodeLogsRequest } from "../../src/export/mod.ts";
import type { LogRecord, RecordOrigin } from "../../src/record.ts";
import { buildSignalStages } from "../../src/signals/mod.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { Logger } from "../../src/telemetry/log.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";

const path = parsePodLogPath("/var/log/pods/ml_trainer-0_u1/worker/0.log");
if (!path.ok) throw new Error("Test path did not parse");
const ORIGIN: RecordOrigin = {
  fileKey: "k",
  startOffset: 0,
  endOffset: 50,
  sizeBytes: 50,
  podPath: path.value,
};

function record(body: string): LogRecord {
  return {
    hrTime: [1, 0],
    hrTimeObserved: [1, 0],
    body: new TextEncoder().encode(body),
    attributes: { "gen_ai.training.rank": 2, "gen_ai.training.job_id": "llm" },
    droppedAttributesCount: 0,
    resource: { attributes: {} },
    instrumentationScope: { name: "t", version: "0" },
  };
}

function build(raw: Record<string, unknown>) {
  const result = validateConfig(raw, { env: () => undefined });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  const registry = new MetricsRegistry();
  const metrics = createAgentMetrics(registry);
  const out: LogRecord[] = [];
  let now = 0;
  const stages = buildSignalStages({
    config: result.value,
    metrics,
    logger: new Logger({ write: () => {} }),
    next: { push: (r) => void out.push(r) },
    scope: { name: "t", version: "0" },
    resourceAttributes: {},
    nowMs: () => now,
  });
  return { stages, out, registry, advance: (ms: number) => (now += ms) };
}

Deno.test("signal stages with the defaults splat JSON, read timings and count rates, then publish them", () => {
  const { stages, out, registry, advance } = build({});
  stages.head.push(record('{"level":"info","msg":"step","data_time_s":0.5,"iter_time_s":2.0}'), ORIGIN);
  stages.head.push(record("plain line"), ORIGIN);
  assert.equal(out.length, 2);
  // The splat body stays in its kvlist encoding: compare the requests it and the map would make.
  const asRequest = (body: LogRecord["body"]) => encodeLogsRequest([{ ...out[0], body }]);
  assert.deepEqual(
    asRequest(out[0].body),
    asRequest({ msg: "step", data_time_s: 0.5, iter_time_s: Float64Array.of(2) }),
  );
  assert.equal(out[0].severityNumber, 9);
  assert.equal(out[0].attributes["training.dataloader.data_time_s"], 0.5);
  assert.deepEqual(out[0].attributes["training.dataloader.iter_time_s"], Float64Array.of(2));
  advance(10_000);
  stages.collect();
  const text = registry.render();
  assert.match(text, /containerstdout_training_dataloader_input_bound_ratio\{job="llm",rank="2"\} 0\.25/);
  assert.match(
    text,
    /containerstdout_container_lines_per_second\{namespace="ml",pod="trainer-0",container="worker"\} 0\.2/,
  );
  assert.equal(stages.metricsExporter, null);
});

Deno.test("signal stages leave bodies alone with json and dataloader disabled, and build the exporter on demand", () => {
  const { stages, out } = build({
    json: { enabled: false },
    dataloader: { enabled: false },
    exporter: { metrics: true },
  });
  const r = record('{"data_time_s":0.5}');
  const body = r.body;
  stages.head.push(r, ORIGIN);
  assert.equal(out[0].body, body);
  assert.deepEqual(Object.keys(out[0].attributes), ["gen_ai.training.rank", "gen_ai.training.job_id"]);
  assert.notEqual(stages.metricsExporter, null);
});
