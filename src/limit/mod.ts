export {
  ADMIT,
  CARDINALITY_CLEAR_MS,
  type CardinalityState,
  DEFAULT_MAX_NAMESPACE_LABELS,
  DELAY,
  DROP,
  type LimitDecision,
  type LimiterMetrics,
  NamespaceLimiter,
  type NamespaceLimiterOptions,
  type NamespaceStatus,
  OTHER_NAMESPACES_LABEL,
} from "./namespace_limiter.ts";
export { TokenBucket, type TokenBucketOptions } from "./token_bucket.ts";
export { type LimitOrigin, type LimitSink, LimitStage, type LimitStageOptions } from "./limit_stage.ts";
export {
  buildEgressBudgets,
  type BuildEgressBudgetsOptions,
  type EgressBudgets,
  RATE_LIMIT_DROP_REASON,
} from "./build.ts";
