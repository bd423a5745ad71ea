/**
 * OTLP encoding cost per batch of 1000 records (~170 B bodies) across 20 container resources: the plain
 * serializer (baseline), our encoder, and our encoder plus gzip. Divide the time per iteration by 1000
 * for the cost per record.
 *
 * @module
 */

import { gzipSync } from "node:zlib";
import { ProtobufLogsSerializer } from "@opentelemetry/otlp-transformer";
import { encodeLogsRequest, OtlpExporter } from "../src/export/mod.ts";
import { createAgentMetrics } from "../src/telemetry/agent_metrics.ts";
import { Logger } from "../src/telemetry/log.ts";
import { MetricsRegistry } from "../src/telemetry/metrics.ts";
import type { LogRecord, ResourceRef } from "../src/record.ts";
import { seededRandom } from "./_seeded_random.ts";

const RECORDS_PER_BATCH = 1000;
const RESOURCE_COUNT = 20;

const random = seededRandom(20_240_601);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
const WORDS = ["step", "loss", "grad", "allreduce", "checkpoint", "rank", "epoch", "batch", "nccl", "cuda"];

function body(i: number): string {
  const kind = random();
  if (kind < 0.5) {
    const msg = Array.from({ length: 10 }, () => pick(WORDS)).join(" ");
    return JSON.stringify({
      ts: 1_700_000_000 + i,
      level: "info",
      step: i,
      loss: random(),
      msg,
      rank: i % 8,
    });
  }
  if (kind < 0.9) {
    const words = Array.from({ length: 20 + Math.floor(random() * 12) }, () => pick(WORDS)).join(" ");
    return `I0601 12:00:${String(i % 60).padStart(2, "0")}.123456 trainer.py:42] ${words}`;
  }
  return `Température du GPU ${i % 8}: ${Math.round(random() * 90)}°C — débit ${"█".repeat(20)} 日本語ログ`;
}

const resources: ResourceRef[] = Array.from({ length: RESOURCE_COUNT }, (_, i) => ({
  attributes: {
    "k8s.namespace.name": `team-${i % 4}`,
    "k8s.pod.name": `trainer-${i}-7d9f8c6b5-x2x4z`,
    "k8s.pod.uid": `0f3c2a4e-${String(i).padStart(4, "0")}-4000-8000-000000000001`,
    "k8s.container.name": "main",
    "k8s.container.restart_count": i % 3,
    "k8s.node.name": "gpu-node-17",
  },
}));
const scope = { name: "containerstdout", version: "0.1.0" };

const batch: LogRecord[] = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({
  hrTime: [1_700_000_000 + i, 123_456_789],
  hrTimeObserved: [1_700_000_000 + i, 223_456_789],
  body: body(i),
  attributes: {
    "log.iostream": i % 5 === 0 ? "stderr" : "stdout",
    "log.file.path": `/var/log/pods/x_trainer-${i % RESOURCE_COUNT}_uid/main/0.log`,
  },
  droppedAttributesCount: 0,
  resource: resources[i % RESOURCE_COUNT],
  instrumentationScope: scope,
}));

const averageBodyBytes = batch.reduce((sum, r) => sum + new TextEncoder().encode(String(r.body)).length, 0) /
  RECORDS_PER_BATCH;
if (averageBodyBytes < 155 || averageBodyBytes > 185) {
  throw new Error(`Bench input drifted: average body ${averageBodyBytes.toFixed(0)} B, want ~170 B`);
}

const exporter = new OtlpExporter({
  endpoint: "http://127.0.0.1:9",
  headers: {},
  compression: "gzip",
  timeoutMs: 1000,
  retryInitialIntervalMs: 100,
  retryMaxIntervalMs: 1000,
  retryMaxElapsedMs: 0,
  metrics: createAgentMetrics(new MetricsRegistry()),
  logger: new Logger({ write: () => {} }),
});

type SerializerRecords = Parameters<typeof ProtobufLogsSerializer.serializeRequest>[0];

async function gzipWithStream(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.bench({
  name: "otlp encode: serializer only, 1000 records of ~170 B over 20 resources",
  group: "otlp encode",
  baseline: true,
  fn() {
    ProtobufLogsSerializer.serializeRequest(batch as unknown as SerializerRecords);
  },
});

Deno.bench({
  name: "otlp encode: encodeLogsRequest, 1000 records",
  group: "otlp encode",
  fn() {
    encodeLogsRequest(batch);
  },
});

Deno.bench({
  name: "otlp encode: encodeLogsRequest + gzip (CompressionStream), 1000 records",
  group: "otlp encode",
  async fn() {
    await gzipWithStream(encodeLogsRequest(batch));
  },
});

Deno.bench({
  name: "otlp encode: encodeLogsRequest + gzip (node:zlib gzipSync, level 6), 1000 records",
  group: "otlp encode",
  fn() {
    gzipSync(encodeLogsRequest(batch));
  },
});

Deno.bench({
  name: "otlp encode: OtlpExporter.prepare (encode + gzipSync level 1, production), 1000 records",
  group: "otlp encode",
  fn() {
    exporter.prepare(batch);
  },
});

const gzip6 = gzipSync(encodeLogsRequest(batch)).length;
const gzip1 = exporter.prepare(batch).body.length;
console.log(
  `gzip output for the batch: level 6 ${gzip6} B, level 1 ${gzip1} B (${(gzip1 / gzip6).toFixed(2)}x)`,
);
