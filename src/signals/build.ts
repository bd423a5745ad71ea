/**
 * Builds the training-signal stages from config, in path order (container rates -> dataloader timings
 * -> JSON body -> `next`), plus what reads them: the /metrics publisher and, with `exporter.metrics`,
 * the OTLP metrics exporter component. `agent.ts` wires the head between the assembler and the batcher.
 *
 * @module
 */

import type { Config } from "../config/mod.ts";
import { DataloaderExtractor, DataloaderStage, JsonBodyStage } from "../extract/mod.ts";
import type { ReadTurns, RecordSink } from "../record.ts";
import type { Attributes, InstrumentationScope } from "../record.ts";
import { type AgentMetrics, TRAINING_TIME_BUCKETS_S } from "../telemetry/agent_metrics.ts";
import type { Logger } from "../telemetry/log.ts";
import { ContainerRates, ContainerRatesStage } from "./container_rates.ts";
import { OtlpMetricsExporter } from "./otlp_metrics_exporter.ts";
import { SignalPublisher } from "./publish_metrics.ts";
import { TrainingSummaries } from "./training_summaries.ts";

/** Options for {@linkcode buildSignalStages}. */
export interface SignalStagesOptions {
  config: Config;
  metrics: AgentMetrics;
  logger: Logger;
  /** The stage after the signal stages (the batcher side). */
  next: RecordSink;
  scope: InstrumentationScope;
  /** Resource attributes of the exported metrics (e.g. `k8s.node.name`). */
  resourceAttributes: Attributes;
  /** Monotonic clock for the rate windows, ms. @default performance.now */
  nowMs?: () => number;
  /** The read loop's turns, for the JSON stage's output buffers (see `JsonBodyStageOptions`). */
  readTurns?: ReadTurns | null;
}

/** The built stages and their readers. */
export interface SignalStages {
  /** Push records here. */
  readonly head: RecordSink;
  readonly summaries: TrainingSummaries;
  readonly rates: ContainerRates;
  /** Copies the signals into their /metrics series; call before each render. */
  collect(): void;
  /** The OTLP metrics exporter to register as a component, or null without `exporter.metrics`. */
  readonly metricsExporter: OtlpMetricsExporter | null;
}

/**
 * Builds the stages (compiling the dataloader patterns once).
 * @throws {Re2CompileError} when a dataloader pattern is unusable (startup error)
 */
export function buildSignalStages(options: SignalStagesOptions): SignalStages {
  const { config, metrics } = options;
  const nowMs = options.nowMs ?? (() => performance.now());
  const summaries = new TrainingSummaries({
    bounds: TRAINING_TIME_BUCKETS_S,
    maxSeries: config.signals.maxRankSeries,
    onOverflow: counter(metrics, "dataloader"),
  });
  const rates = new ContainerRates({
    maxSeries: config.signals.maxContainerSeries,
    windowMs: config.signals.rateWindowMs,
    startMs: nowMs(),
    onOverflow: counter(metrics, "container_rates"),
  });
  let head: RecordSink = options.next;
  if (config.json.enabled) {
    head = new JsonBodyStage({
      mode: config.json.mode,
      maxDepth: config.json.maxDepth,
      maxKeys: config.json.maxKeys,
      metrics,
      next: head,
      readTurns: options.readTurns ?? null,
    });
  }
  if (config.dataloader.enabled && config.dataloader.patterns.length > 0) {
    const extractor = DataloaderExtractor.compile({
      patterns: config.dataloader.patterns,
      maxInputBytes: config.dataloader.maxInputBytes,
      metrics,
    });
    head = new DataloaderStage({ extractor, observer: summaries, metrics, next: head });
  }
  head = new ContainerRatesStage({ rates, next: head });
  const publisher = new SignalPublisher(metrics);
  const metricsExporter = config.metricsExport.enabled
    ? new OtlpMetricsExporter({
      endpoint: config.exporter.endpoint,
      headers: config.exporter.headers,
      compression: config.exporter.compression,
      timeoutMs: config.exporter.timeoutMs,
      intervalMs: config.metricsExport.intervalMs,
      snapshot: () => ({
        summaries: summaries.snapshot(),
        rates: rates.snapshot(nowMs()),
        bounds: summaries.bounds,
      }),
      resourceAttributes: options.resourceAttributes,
      scope: options.scope,
      metrics,
      logger: options.logger,
    })
    : null;
  return {
    head,
    summaries,
    rates,
    metricsExporter,
    collect: () => {
      publisher.publishSummaries(summaries.snapshot());
      publisher.publishRates(rates.snapshot(nowMs()));
    },
  };
}

function counter(metrics: AgentMetrics, signal: string): () => void {
  const series = metrics.signalSeriesOverflow.labels(signal);
  return () => void series.value++;
}
