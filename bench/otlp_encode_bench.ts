/**
 * OTLP encoding cost per batch of 1000 records (~170 B bodies) across 20 container resources, side by
 * side: the otlp-transformer serializer (baseline, the path before our encoder) and our encoder, with
 * string bodies and with bytes bodies as the reader produces them; each with and without gzip level 1
 * (the production `prepare`), and with zstd level 1 (`exporter.compression: zstd`). Divide the time per
 * iteration by 1000 for the cost per record.
 *
 * @module
 */

import { gzipSync } from "node:zlib";
import { ProtobufLogsSerializer } from "@opentelemetry/otlp-transformer";
import { BodyCompressor, encodeLogsRequest, LogsRequestEncoder, OtlpExporter } from "../src/export/mod.ts";
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

/** The same records with their body as UTF-8 bytes, as the reader hands them over (each its own copy). */
const byteBatch: LogRecord[] = batch.map((record) => ({
  ...record,
  body: new TextEncoder().encode(record.body as string),
}));

/**
 * The same records in the order the reader hands them over: runs of 50 per file (one read chunk), each
 * file's path one shared string. The batches above interleave files record by record with a fresh path
 * string each: the worst case for the encoder's attribute caches.
 */
const filePaths = resources.map((_, r) => `/var/log/pods/x_trainer-${r}_uid/main/0.log`);
const runBatch: LogRecord[] = byteBatch.map((_, k) => {
  const file = Math.floor(k / 50);
  const i = file + RESOURCE_COUNT * (k % 50); // the k-th record read is record i of the interleaved batch
  const record = byteBatch[i];
  return { ...record, attributes: { ...record.attributes, "log.file.path": filePaths[file] } };
});

const averageBodyBytes = byteBatch.reduce((sum, r) => sum + (r.body as Uint8Array).length, 0) /
  RECORDS_PER_BATCH;
if (averageBodyBytes < 155 || averageBodyBytes > 185) {
  throw new Error(`Bench input drifted: average body ${averageBodyBytes.toFixed(0)} B, want ~170 B`);
}

const exporterWith = (compression: "gzip" | "zstd"): OtlpExporter =>
  new OtlpExporter({
    endpoint: "http://127.0.0.1:9",
    headers: {},
    compression,
    timeoutMs: 1000,
    retryInitialIntervalMs: 100,
    retryMaxIntervalMs: 1000,
    retryMaxElapsedMs: 0,
    metrics: createAgentMetrics(new MetricsRegistry()),
    logger: new Logger({ write: () => {} }),
  });
const exporter = exporterWith("gzip");
const zstdExporter = exporterWith("zstd");

type SerializerRecords = Parameters<typeof ProtobufLogsSerializer.serializeRequest>[0];

/** Today's path before our encoder: the transformer's serializer, then gzip level 1 as `prepare` does. */
function transformerPrepare(records: readonly LogRecord[]): Uint8Array {
  const plain = ProtobufLogsSerializer.serializeRequest(records as unknown as SerializerRecords)!;
  return new Uint8Array(gzipSync(plain, { level: 1 }));
}

async function gzipWithStream(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const encoder = new LogsRequestEncoder();

Deno.bench({
  name: "otlp encode + gzip: otlp-transformer serializer + gzipSync level 1, 1000 records",
  group: "otlp encode + gzip",
  baseline: true,
  fn() {
    transformerPrepare(batch);
  },
});

Deno.bench({
  name: "otlp encode + gzip: OtlpExporter.prepare (own encoder + reused gzip stream, level 1), string bodies",
  group: "otlp encode + gzip",
  fn() {
    exporter.prepare(batch);
  },
});

Deno.bench({
  name: "otlp encode + gzip: OtlpExporter.prepare (own encoder + reused gzip stream, level 1), bytes bodies",
  group: "otlp encode + gzip",
  fn() {
    exporter.prepare(byteBatch);
  },
});

Deno.bench({
  name: "otlp encode + gzip: OtlpExporter.prepare, bytes bodies in runs of 50 per file (reader order)",
  group: "otlp encode + gzip",
  fn() {
    exporter.prepare(runBatch);
  },
});

Deno.bench({
  name: "otlp encode + zstd: OtlpExporter.prepare, compression zstd (level 1), bytes bodies in reader order",
  group: "otlp encode + gzip",
  fn() {
    zstdExporter.prepare(runBatch);
  },
});

Deno.bench({
  name: "otlp encode: otlp-transformer serializer, 1000 records of ~170 B over 20 resources",
  group: "otlp encode",
  baseline: true,
  fn() {
    ProtobufLogsSerializer.serializeRequest(batch as unknown as SerializerRecords);
  },
});

Deno.bench({
  name: "otlp encode: own encoder, string bodies, 1000 records",
  group: "otlp encode",
  fn() {
    encoder.encode(batch);
  },
});

Deno.bench({
  name: "otlp encode: own encoder, bytes bodies (UTF-8 validated), 1000 records",
  group: "otlp encode",
  fn() {
    encoder.encode(byteBatch);
  },
});

const plainBytes = encodeLogsRequest(byteBatch);

Deno.bench({
  name: "gzip: gzipSync level 1 of one encoded 1000-record request (the metrics exporter's)",
  group: "gzip",
  baseline: true,
  fn() {
    gzipSync(plainBytes, { level: 1 });
  },
});

const gzipStream = new BodyCompressor("gzip");
const zstdStream = new BodyCompressor("zstd");

Deno.bench({
  name:
    "gzip: BodyCompressor gzip level 1 of one encoded 1000-record request (the exporter's, one reused stream)",
  group: "gzip",
  fn() {
    gzipStream.compress(plainBytes);
  },
});

Deno.bench({
  name: "gzip: BodyCompressor zstd level 1 of the same request (compression: zstd, one reused stream)",
  group: "gzip",
  fn() {
    zstdStream.compress(plainBytes);
  },
});

Deno.bench({
  name: "gzip: gzipSync level 6 of one encoded 1000-record request",
  group: "gzip",
  fn() {
    gzipSync(plainBytes);
  },
});

Deno.bench({
  name: "gzip: CompressionStream of one encoded 1000-record request",
  group: "gzip",
  async fn() {
    await gzipWithStream(plainBytes);
  },
});

Deno.bench({
  name: "otlp encode: own encoder, bytes bodies in runs of 50 per file (reader order), 1000 records",
  group: "otlp encode",
  fn() {
    encoder.encode(runBatch);
  },
});

const gzip6 = gzipSync(plainBytes).length;
const gzip1 = exporter.prepare(byteBatch).body.length;
const zstd1 = zstdExporter.prepare(byteBatch).body.length;
console.log(
  `request for the batch: ${plainBytes.length} B; gzip level 6 ${gzip6} B, level 1 ${gzip1} B ` +
    `(${(gzip1 / gzip6).toFixed(2)}x); zstd level 1 ${zstd1} B`,
);
