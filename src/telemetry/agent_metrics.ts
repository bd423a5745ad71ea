/**
 * The catalogue of every metric the agent exposes: one place that names them, with their labels and
 * help text. Components receive the object this builds; none registers metrics of its own.
 *
 * @module
 */

import type { Counter, Gauge, Histogram, MetricsRegistry } from "./metrics.ts";

/** Every metric of the agent. Label values are closed string unions documented per metric. */
export interface AgentMetrics {
  // discovery + tailer
  linesRead: Counter;
  bytesRead: Counter;
  filesOpen: Gauge;
  filesTracked: Gauge;
  filesDiscovered: Counter;
  rotations: Counter;
  truncations: Counter;
  bytesLost: Counter;
  filesLost: Counter;
  rescans: Counter;
  watcherRestarts: Counter;
  readErrors: Counter;
  longLines: Counter;
  pausedSeconds: Counter;
  inflightBytes: Gauge;
  readLagBytes: Gauge;
  // reader rebuild (issue 8)
  filesWaitingForDescriptor: Gauge;
  descriptorWaitOldestSeconds: Gauge;
  descriptorsReleased: Counter;
  filesRefused: Counter;
  filesQuarantined: Counter;
  filesQuarantinedNow: Gauge;
  filesIdleClosed: Counter;
  backpressurePauses: Counter;
  memoryBytes: Gauge;
  recordsDropped: Counter;
  // cri + stitch
  malformedLines: Counter;
  partialFlushes: Counter;
  truncatedRecords: Counter;
  recordsEmitted: Counter;
  // export
  exportRequests: Counter;
  exportRecords: Counter;
  exportRetries: Counter;
  exportBytes: Counter;
  exportRequestSeconds: Counter;
  exportQueueBatches: Gauge;
  invalidUtf8Records: Counter;
  // cursor
  cursorCommits: Counter;
  cursorCommitFailures: Counter;
  cursorsTracked: Gauge;
  cursorLockWaiting: Gauge;
  // k8s + enrich
  watchEvents: Counter;
  watchRestarts: Counter;
  podsCached: Gauge;
  podCacheEvictions: Counter;
  recordsWithoutPodMetadata: Counter;
  rankAttributed: Counter;
  re2Calls: Counter;
  re2InputsCapped: Counter;
  re2Failures: Counter;
  // training signals (issue 10): JSON bodies, dataloader timings, per-container rates
  jsonParsed: Counter;
  jsonTranscoded: Counter;
  jsonSkipped: Counter;
  jsonCut: Counter;
  jsonKeptKeys: Counter;
  dataloaderMatches: Counter;
  trainingDataTime: Histogram;
  trainingIterTime: Histogram;
  trainingInputBoundRatio: Gauge;
  signalSeriesOverflow: Counter;
  containerLinesRate: Gauge;
  containerBytesRate: Gauge;
  metricsExportRequests: Counter;
  // egress budgets per namespace (issue 11); namespace label values bounded (src/limit/namespace_limiter.ts)
  ratelimitDroppedRecords: Counter;
  ratelimitDroppedBytes: Counter;
  ratelimitDelayedSeconds: Counter;
  ratelimitLimitedNamespaces: Gauge;
  ratelimitKeys: Gauge;
  ratelimitKeyEvictions: Counter;
  // evict (eviction / preemption / OOM join)
  evictionDetections: Counter;
  evictionEventRecords: Counter;
  evictionTaggedRecords: Counter;
  evictionRingBytes: Gauge;
  evictionRingContainers: Gauge;
  evictionRingTrimmedLines: Counter;
  evictionKeyStoreFailures: Counter;
  eventWatchEvents: Counter;
  eventWatchRestarts: Counter;
  eventsIgnored: Counter;
  // process
  processResidentBytes: Gauge;
  processHeapBytes: Gauge;
  processCpuSeconds: Counter;
  buildInfo: Gauge;
}

/** Registers the agent's metrics in `registry` and returns them. */
export function createAgentMetrics(registry: MetricsRegistry): AgentMetrics {
  const c = (name: string, help: string, labels: string[] = []): Counter =>
    registry.counter(`containerstdout_${name}`, help, labels);
  const g = (name: string, help: string, labels: string[] = []): Gauge =>
    registry.gauge(`containerstdout_${name}`, help, labels);
  return {
    linesRead: c("lines_read_total", "CRI lines read from log files"),
    bytesRead: c("read_bytes_total", "Bytes read from log files"),
    filesOpen: g("files_open", "Log files currently held open"),
    filesTracked: g("files_tracked", "File identities currently tracked"),
    filesDiscovered: c("files_discovered_total", "Log files discovered"),
    rotations: c("rotations_total", "Rename rotations followed"),
    truncations: c("truncations_total", "Files found truncated or rewritten; read again from 0", ["reason"]),
    bytesLost: c("lost_bytes_total", "Bytes never read because their file was gone (by reason)", ["reason"]),
    filesLost: c("lost_files_total", "Files that vanished with unread bytes (by reason)", ["reason"]),
    rescans: c("rescans_total", "Directory rescans (by trigger)", ["trigger"]),
    watcherRestarts: c("watcher_restarts_total", "Recursive file watcher restarts (by reason)", ["reason"]),
    readErrors: c("read_errors_total", "File open/read/stat errors (by code)", ["code"]),
    longLines: c("long_lines_total", "Lines longer than the read buffer, split into pieces"),
    pausedSeconds: c("backpressure_paused_seconds_total", "Seconds reading was paused for backpressure"),
    inflightBytes: g("inflight_bytes", "Bytes of records read but not yet acknowledged"),
    readLagBytes: g("read_lag_bytes", "Bytes written to tracked files and not yet read (sum over files)"),
    filesWaitingForDescriptor: g(
      "files_waiting_for_descriptor",
      "Files with unread bytes waiting for a descriptor under tail.max_open_files",
    ),
    descriptorWaitOldestSeconds: g(
      "descriptor_wait_oldest_seconds",
      "How long the file waiting longest for a descriptor has waited",
    ),
    descriptorsReleased: c(
      "descriptors_released_total",
      "Descriptors given up by caught-up files (by reason: max_open_files, close_inactive)",
      ["reason"],
    ),
    filesRefused: c(
      "files_refused_total",
      "Files refused once per identity (by reason: symlink_outside_roots, not_regular)",
      ["reason"],
    ),
    filesQuarantined: c(
      "files_quarantined_total",
      "Files set aside after an unexpected error while reading or assembling them (by reason)",
      ["reason"],
    ),
    filesQuarantinedNow: g("files_quarantined", "Files currently quarantined (retried with backoff)"),
    filesIdleClosed: c("files_idle_closed_total", "Files closed after tail.close_inactive without new bytes"),
    backpressurePauses: c("backpressure_pauses_total", "Times reading paused at memory_limit"),
    memoryBytes: g(
      "memory_accounted_bytes",
      "Bytes read and not yet acknowledged, by where they sit (carry, stitch, records)",
      ["where"],
    ),
    recordsDropped: c("records_dropped_total", "Records dropped on purpose by a record stage (by reason)", [
      "reason",
    ]),
    malformedLines: c("malformed_lines_total", "Lines without a valid CRI header, shipped raw (by reason)", [
      "reason",
    ]),
    partialFlushes: c("partial_flushes_total", "Unfinished partial records flushed (by reason)", ["reason"]),
    truncatedRecords: c("truncated_records_total", "Records cut at max_log_size"),
    recordsEmitted: c("records_emitted_total", "Log records handed to the exporter"),
    exportRequests: c("export_requests_total", "OTLP export requests (by outcome)", ["outcome"]),
    exportRecords: c("export_records_total", "Records by export outcome", ["outcome"]),
    exportRetries: c("export_retries_total", "OTLP export retries (by reason)", ["reason"]),
    exportBytes: c("export_sent_bytes_total", "Request body bytes sent to the OTLP endpoint"),
    exportRequestSeconds: c("export_request_seconds_total", "Seconds spent in OTLP requests"),
    exportQueueBatches: g("export_queue_batches", "Batches waiting for or in an export request"),
    invalidUtf8Records: c(
      "invalid_utf8_records_total",
      "Records whose body bytes were not valid UTF-8, sent with U+FFFD replacements",
    ),
    cursorCommits: c("cursor_commits_total", "Cursor store commits that succeeded"),
    cursorCommitFailures: c("cursor_commit_failures_total", "Cursor store commits that failed"),
    cursorsTracked: g("cursors_tracked", "Cursors held in the cursor store"),
    cursorLockWaiting: g(
      "cursor_lock_waiting",
      "1 while this agent waits for another agent to release the cursor store lock, else 0",
    ),
    watchEvents: c("k8s_watch_events_total", "Pod watch events (by type)", ["type"]),
    watchRestarts: c("k8s_watch_restarts_total", "Pod list/watch restarts (by reason)", ["reason"]),
    podsCached: g("k8s_pods_cached", "Pods held in the metadata cache"),
    podCacheEvictions: c("k8s_pod_cache_evictions_total", "Pods evicted from the bounded metadata cache"),
    recordsWithoutPodMetadata: c(
      "records_without_pod_metadata_total",
      "Records shipped with path metadata only because their pod was not (yet) known",
    ),
    rankAttributed: c("rank_attributed_total", "Records given a training rank (by source kind)", ["source"]),
    re2Calls: c("re2_calls_total", "Calls into the RE2 engine (after the literal pre-filter)"),
    re2InputsCapped: c("re2_inputs_capped_total", "RE2 inputs cut to the input length cap"),
    re2Failures: c("re2_failures_total", "RE2 calls that failed inside the engine; treated as no match"),
    ...signalMetrics(registry),
    ratelimitDroppedRecords: c(
      "ratelimit_dropped_records_total",
      "Records dropped over an on_limit: drop budget (by namespace; the first 20 limited, the rest _other)",
      ["namespace"],
    ),
    ratelimitDroppedBytes: c(
      "ratelimit_dropped_bytes_total",
      "Bytes (body + fixed overhead) of records dropped over an on_limit: drop budget (by namespace)",
      ["namespace"],
    ),
    ratelimitDelayedSeconds: c(
      "ratelimit_delayed_seconds_total",
      "Seconds a namespace's files were held back by an on_limit: delay budget (by namespace)",
      ["namespace"],
    ),
    ratelimitLimitedNamespaces: g(
      "ratelimit_limited_namespaces",
      "Namespaces over their egress budget right now (by on_limit: drop, delay)",
      ["on_limit"],
    ),
    ratelimitKeys: g(
      "ratelimit_keys",
      "Namespaces holding a token bucket (at most egress_rate_limit.max_keys)",
    ),
    ratelimitKeyEvictions: c(
      "ratelimit_key_evictions_total",
      "Token buckets evicted at egress_rate_limit.max_keys (by state: idle, limited)",
      ["state"],
    ),
    evictionDetections: c(
      "eviction_detections_total",
      "Evictions, preemptions and OOM kills detected (by event_name, source, outcome: pending, duplicate, merged, stale)",
      ["event_name", "source", "outcome"],
    ),
    evictionEventRecords: c(
      "eviction_event_records_total",
      "Event records emitted for evictions, preemptions and OOM kills (by event_name)",
      ["event_name"],
    ),
    evictionTaggedRecords: c(
      "eviction_tagged_records_total",
      "Records tagged k8s.pod.eviction.reason (written inside a disruption's window)",
    ),
    evictionRingBytes: g("eviction_ring_bytes", "Accounted bytes of the last-lines rings"),
    evictionRingContainers: g("eviction_ring_containers", "Containers with a last-lines ring"),
    evictionRingTrimmedLines: c(
      "eviction_ring_trimmed_lines_total",
      "Lines dropped from last-lines rings before eviction.last_lines pushed them out (by reason)",
      ["reason"],
    ),
    evictionKeyStoreFailures: c(
      "eviction_key_store_failures_total",
      "Failed loads or saves of emitted eviction keys in the cursor KV (by op)",
      ["op"],
    ),
    eventWatchEvents: c("k8s_event_watch_events_total", "Event watch events (by type)", ["type"]),
    eventWatchRestarts: c("k8s_event_watch_restarts_total", "Event list/watch restarts (by reason)", [
      "reason",
    ]),
    eventsIgnored: c(
      "k8s_events_ignored_total",
      "Events read but not turned into a detection (by reason)",
      ["reason"],
    ),
    processResidentBytes: g("process_resident_memory_bytes", "Resident set size of the agent"),
    processHeapBytes: g(
      "process_heap_bytes",
      "JavaScript heap of the agent (by kind: used, total, external)",
      [
        "kind",
      ],
    ),
    processCpuSeconds: c(
      "process_cpu_seconds_total",
      "CPU seconds used by the agent (by mode: user, system)",
      [
        "mode",
      ],
    ),
    buildInfo: g("build_info", "Always 1; the version label names the agent build", ["version"]),
  };
}

/** Upper bounds (seconds) of the dataloader timing histograms: 1 ms .. 10 s. */
export const TRAINING_TIME_BUCKETS_S: readonly number[] = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

type SignalMetricNames =
  | "jsonParsed"
  | "jsonTranscoded"
  | "jsonSkipped"
  | "jsonCut"
  | "jsonKeptKeys"
  | "dataloaderMatches"
  | "trainingDataTime"
  | "trainingIterTime"
  | "trainingInputBoundRatio"
  | "signalSeriesOverflow"
  | "containerLinesRate"
  | "containerBytesRate"
  | "metricsExportRequests";

/** The training-signal block (issue 10). Per-series labels are bounded by the signals.* ceilings. */
function signalMetrics(registry: MetricsRegistry): Pick<AgentMetrics, SignalMetricNames> {
  const c = (name: string, help: string, labels: string[] = []): Counter =>
    registry.counter(`containerstdout_${name}`, help, labels);
  const g = (name: string, help: string, labels: string[] = []): Gauge =>
    registry.gauge(`containerstdout_${name}`, help, labels);
  const rank = ["job", "rank"];
  const container = ["namespace", "pod", "container"];
  return {
    jsonParsed: c("json_parsed_total", "Record bodies parsed as JSON objects"),
    jsonTranscoded: c(
      "json_transcoded_total",
      "JSON object bodies written to OTLP straight from their bytes (part of json_parsed_total; the rest took JSON.parse)",
    ),
    jsonSkipped: c(
      "json_skipped_total",
      "Record bodies left as text: not_object, malformed, trailing_text, invalid_utf8",
      ["reason"],
    ),
    jsonCut: c(
      "json_cut_total",
      "JSON values cut: depth (containers past json.max_depth), keys (past json.max_keys), " +
        "attribute_collision (a field named like an agent attribute)",
      ["reason"],
    ),
    jsonKeptKeys: c(
      "json_kept_keys_total",
      "JSON level or time keys kept because their value named no severity or time (by field)",
      ["field"],
    ),
    dataloaderMatches: c("dataloader_matches_total", "Records that carried a dataloader timing"),
    trainingDataTime: registry.histogram(
      "containerstdout_training_dataloader_data_time_seconds",
      "Dataloader wait per step (data_time_s) by job and rank; job=rank=other past signals.max_rank_series",
      rank,
      TRAINING_TIME_BUCKETS_S,
    ),
    trainingIterTime: registry.histogram(
      "containerstdout_training_dataloader_iter_time_seconds",
      "Iteration time per step (iter_time_s) by job and rank; job=rank=other past signals.max_rank_series",
      rank,
      TRAINING_TIME_BUCKETS_S,
    ),
    trainingInputBoundRatio: g(
      "training_dataloader_input_bound_ratio",
      "Sum of data time over sum of iteration time by job and rank (1: the rank waits on input)",
      rank,
    ),
    signalSeriesOverflow: c(
      "signal_series_overflow_total",
      "Observations folded into the other series because a signals.* series ceiling was reached (by signal)",
      ["signal"],
    ),
    containerLinesRate: g(
      "container_lines_per_second",
      "Records per second read from each container over the last rate window",
      container,
    ),
    containerBytesRate: g(
      "container_read_bytes_per_second",
      "Log file bytes per second read from each container over the last rate window",
      container,
    ),
    metricsExportRequests: c(
      "metrics_export_requests_total",
      "OTLP metrics export requests (by outcome: ok, http_error, network_error)",
      ["outcome"],
    ),
  };
}
