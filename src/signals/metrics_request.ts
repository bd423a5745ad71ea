/**
 * Builds the `ResourceMetrics` object that `@opentelemetry/otlp-transformer`'s
 * `ProtobufMetricsSerializer` encodes, from the signal snapshots. Pure; the serializer itself is loaded
 * lazily by the exporter (only with `exporter.metrics: true`).
 *
 * Metrics (cumulative since `startMs`):
 * - `training.dataloader.data_time`, `training.dataloader.iter_time`: histograms, unit `s`, attributes
 *   `gen_ai.training.job_id`, `gen_ai.training.rank`;
 * - `training.dataloader.input_bound_ratio`: gauge, unit `1`, same attributes;
 * - `k8s.container.log.record_rate` (`{record}/s`) and `k8s.container.log.byte_rate` (`By/s`): gauges
 *   with `k8s.namespace.name`, `k8s.pod.name`, `k8s.container.name`.
 *
 * @module
 */

import type { ProtobufMetricsSerializer } from "@opentelemetry/otlp-transformer";
import { type Attributes, type InstrumentationScope, JOB_ID_ATTRIBUTE, RANK_ATTRIBUTE } from "../record.ts";
import { msToHr } from "../assemble/mod.ts";
import type { ContainerRate } from "./container_rates.ts";
import type { RankSummary } from "./training_summaries.ts";

/** The serializer's input type. */
export type ResourceMetricsInput = Parameters<typeof ProtobufMetricsSerializer.serializeRequest>[0];

// Enum values of @opentelemetry/sdk-metrics and @opentelemetry/api (not imported: only numbers cross).
const DATA_POINT_HISTOGRAM = 0;
const DATA_POINT_GAUGE = 2;
const TEMPORALITY_CUMULATIVE = 1;
const VALUE_TYPE_DOUBLE = 1;

/** What one export reports. */
export interface MetricsSnapshot {
  summaries: readonly RankSummary[];
  rates: readonly ContainerRate[];
  /** Histogram bucket upper bounds (seconds). */
  bounds: readonly number[];
}

/** Options for {@linkcode buildMetricsRequest}. */
export interface MetricsRequestOptions {
  resource: { attributes: Attributes };
  scope: InstrumentationScope;
  /** Start of the cumulative period (the agent start), ms since the epoch. */
  startMs: number;
  nowMs: number;
}

/** The request object for the serializer. */
export function buildMetricsRequest(
  snapshot: MetricsSnapshot,
  options: MetricsRequestOptions,
): ResourceMetricsInput {
  const startTime = msToHr(options.startMs);
  const endTime = msToHr(options.nowMs);
  const point = <T>(attributes: Attributes, value: T) => ({ startTime, endTime, attributes, value });
  const rankAttrs = (s: RankSummary): Attributes => ({ [JOB_ID_ATTRIBUTE]: s.job, [RANK_ATTRIBUTE]: s.rank });
  const histogram = (t: RankSummary["dataTime"]) => ({
    buckets: { boundaries: [...snapshot.bounds], counts: [...t.bucketCounts] },
    sum: t.sum,
    count: t.count,
  });
  const containerAttrs = (r: ContainerRate): Attributes => ({
    "k8s.namespace.name": r.namespace,
    "k8s.pod.name": r.pod,
    "k8s.container.name": r.container,
  });
  const withData = snapshot.summaries.filter((s) => s.dataTime.count > 0);
  const withIter = snapshot.summaries.filter((s) => s.iterTime.count > 0);
  const withRatio = snapshot.summaries.filter((s) => s.inputBoundRatio !== null);
  const metrics = [
    histogramMetric(
      "training.dataloader.data_time",
      "Dataloader wait per step",
      withData.map((s) => point(rankAttrs(s), histogram(s.dataTime))),
    ),
    histogramMetric(
      "training.dataloader.iter_time",
      "Iteration time per step",
      withIter.map((s) => point(rankAttrs(s), histogram(s.iterTime))),
    ),
    gaugeMetric(
      "training.dataloader.input_bound_ratio",
      "Data time over iteration time",
      "1",
      withRatio.map((s) => point(rankAttrs(s), s.inputBoundRatio!)),
    ),
    gaugeMetric(
      "k8s.container.log.record_rate",
      "Log records per second read from the container",
      "{record}/s",
      snapshot.rates.map((r) => point(containerAttrs(r), r.linesPerSecond)),
    ),
    gaugeMetric(
      "k8s.container.log.byte_rate",
      "Log file bytes per second read from the container",
      "By/s",
      snapshot.rates.map((r) => point(containerAttrs(r), r.bytesPerSecond)),
    ),
  ].filter((m) => m.dataPoints.length > 0);
  const request = {
    resource: options.resource,
    scopeMetrics: [{ scope: { name: options.scope.name, version: options.scope.version }, metrics }],
  };
  return request as unknown as ResourceMetricsInput;
}

function histogramMetric(name: string, description: string, dataPoints: unknown[]) {
  return {
    descriptor: { name, description, unit: "s", valueType: VALUE_TYPE_DOUBLE },
    aggregationTemporality: TEMPORALITY_CUMULATIVE,
    dataPointType: DATA_POINT_HISTOGRAM,
    dataPoints,
  };
}

function gaugeMetric(name: string, description: string, unit: string, dataPoints: unknown[]) {
  return {
    descriptor: { name, description, unit, valueType: VALUE_TYPE_DOUBLE },
    aggregationTemporality: TEMPORALITY_CUMULATIVE,
    dataPointType: DATA_POINT_GAUGE,
    dataPoints,
  };
}
