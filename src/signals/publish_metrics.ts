/**
 * Copies the signal snapshots into their /metrics series right before a render, and removes the
 * series of containers that were forgotten, so the exposition never holds more than the ceilings.
 *
 * @module
 */

import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import type { ContainerRate } from "./container_rates.ts";
import type { RankSummary } from "./training_summaries.ts";

type SignalMetrics = Pick<
  AgentMetrics,
  | "trainingDataTime"
  | "trainingIterTime"
  | "trainingInputBoundRatio"
  | "containerLinesRate"
  | "containerBytesRate"
>;

/** Keeps the label sets it published, to remove the ones that disappear. */
export class SignalPublisher {
  #metrics: SignalMetrics;
  #containers = new Map<string, readonly string[]>();

  constructor(metrics: SignalMetrics) {
    this.#metrics = metrics;
  }

  /** Publishes the dataloader summaries (series only grow: summaries are cumulative). */
  publishSummaries(summaries: readonly RankSummary[]): void {
    const m = this.#metrics;
    for (const s of summaries) {
      if (s.dataTime.count > 0) m.trainingDataTime.set(s.dataTime, s.job, s.rank);
      if (s.iterTime.count > 0) m.trainingIterTime.set(s.iterTime, s.job, s.rank);
      if (s.inputBoundRatio !== null) m.trainingInputBoundRatio.set(s.inputBoundRatio, s.job, s.rank);
    }
  }

  /** Publishes the container rates and removes the series of containers no longer in `rates`. */
  publishRates(rates: readonly ContainerRate[]): void {
    const m = this.#metrics;
    const seen = new Map<string, readonly string[]>();
    for (const r of rates) {
      const labels = [r.namespace, r.pod, r.container];
      seen.set(labels.join("\u0000"), labels);
      m.containerLinesRate.set(r.linesPerSecond, ...labels);
      m.containerBytesRate.set(r.bytesPerSecond, ...labels);
    }
    for (const [key, labels] of this.#containers) {
      if (seen.has(key)) continue;
      m.containerLinesRate.remove(...labels);
      m.containerBytesRate.remove(...labels);
    }
    this.#containers = seen;
  }
}
