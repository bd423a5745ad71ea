export { BoundedSeries, type BoundedSeriesOptions, OTHER } from "./bounded_series.ts";
export {
  type ContainerRate,
  ContainerRates,
  type ContainerRatesOptions,
  ContainerRatesStage,
} from "./container_rates.ts";
export {
  buildMetricsRequest,
  type MetricsRequestOptions,
  type MetricsSnapshot,
  type ResourceMetricsInput,
} from "./metrics_request.ts";
export { OtlpMetricsExporter, type OtlpMetricsExporterOptions } from "./otlp_metrics_exporter.ts";
export { SignalPublisher } from "./publish_metrics.ts";
export {
  type RankSummary,
  type TimingSummary,
  TrainingSummaries,
  type TrainingSummariesOptions,
} from "./training_summaries.ts";
export { buildSignalStages, type SignalStages, type SignalStagesOptions } from "./build.ts";
