/**
 * Builds the egress budget stage from config (issue 11): nothing at all without an `egress_rate_limit`
 * budget, so an agent without one pays nothing per record.
 *
 * @module
 */

import type { Config } from "../config/mod.ts";
import type { RecordOrigin, RecordSink, RecordStage } from "../record.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import type { KindTracker } from "../telemetry/kinds.ts";
import { LimitStage } from "./limit_stage.ts";
import { NamespaceLimiter, type NamespaceStatus } from "./namespace_limiter.ts";

/** The drop reason the loss ledger counts for records over a budget. */
export const RATE_LIMIT_DROP_REASON = "rate_limit";

/** The built stage, its read gate, and what refreshes its gauges before a scrape. */
export interface EgressBudgets {
  stage: RecordStage;
  /** For the read loop's `readGate` (delay budgets). */
  readGate: (origin: { podPath: RecordOrigin["podPath"] }, nowMs: number) => number;
  /** Updates the limiter's gauges and delay seconds; clears `RateLimitCardinality` after a quiet period. */
  collect: () => void;
  /** Per-namespace state for `/status`. */
  status: () => NamespaceStatus[];
}

/** Options for {@linkcode buildEgressBudgets}. */
export interface BuildEgressBudgetsOptions {
  config: Pick<Config, "egressRateLimit">;
  metrics: AgentMetrics;
  kinds: KindTracker;
  /** The next stage (towards the batcher). */
  next: RecordSink;
  /** A record dropped over its budget (the ledger counts it; it is already past the cursor frontier). */
  onDropped: (origin: RecordOrigin) => void;
  /** Clock in milliseconds, the read loop's. @default Date.now */
  now?: () => number;
}

/** The egress budget stage, or null when no namespace has a budget. */
export function buildEgressBudgets(options: BuildEgressBudgetsOptions): EgressBudgets | null {
  const { config, metrics, kinds } = options;
  const budgets = config.egressRateLimit;
  const now = options.now ?? Date.now;
  const limiter = new NamespaceLimiter({
    defaultBudget: budgets.default,
    namespaceBudgets: budgets.namespaceBudgets,
    maxKeys: budgets.maxKeys,
    metrics: {
      droppedRecords: metrics.ratelimitDroppedRecords,
      droppedBytes: metrics.ratelimitDroppedBytes,
      delayedSeconds: metrics.ratelimitDelayedSeconds,
      limitedNamespaces: metrics.ratelimitLimitedNamespaces,
      keys: metrics.ratelimitKeys,
      keyEvictions: metrics.ratelimitKeyEvictions,
    },
    onCardinality: (state) =>
      state.isOver ? kinds.raise("RateLimitCardinality", state.reason) : kinds.clear("RateLimitCardinality"),
  });
  if (!limiter.isEnabled) return null;
  const stage = new LimitStage({
    limiter,
    next: options.next,
    onDropped: (_record, origin: RecordOrigin) => options.onDropped(origin),
    now,
  });
  return {
    stage,
    readGate: stage.readGate,
    collect: () => limiter.collect(now()),
    status: () => limiter.snapshot(now()),
  };
}
