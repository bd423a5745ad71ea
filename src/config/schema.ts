/**
 * Every config option, once: its YAML key, type, default, unit, bounds and a one-line doc. Validation,
 * the reference docs and the chart checks all read this table; nothing else lists options.
 *
 * @module
 */

import { DEFAULT_DATALOADER_PATTERNS } from "./dataloader_patterns.ts";

/** How the value of an option is written in YAML and checked. */
export type OptionType =
  | "string"
  | "string_list"
  | "string_map"
  | "bool"
  | "int"
  | "duration"
  | "size"
  | "enum"
  | "url"
  | "listen_address"
  | "rate_budget"
  | "rate_budget_map";

/**
 * Extra syntax an option's value (or each element of a list) must follow, on top of its type. Each name
 * is one checker in `validate.ts`.
 */
export type OptionFormat =
  | "path_glob"
  | "file_path"
  | "namespace_pattern"
  | "metadata_key_or_regex"
  | "rank_source"
  | "job_id_source"
  | "http_headers"
  | "rank_regex"
  | "dataloader_regex"
  | "otlp_endpoint";

/** A default as it would be written in YAML. */
export type OptionDefault =
  | string
  | number
  | boolean
  | null
  | readonly string[]
  | Readonly<Record<string, string>>;

/** One row of {@linkcode CONFIG_SCHEMA}. */
export interface OptionSpec {
  /** Dotted YAML path in snake_case, e.g. `tail.max_open_files`. */
  readonly key: string;
  /** Dotted path of the field in {@linkcode Config}, camelCase with units, e.g. `tail.maxOpenFiles`. */
  readonly field: string;
  readonly type: OptionType;
  /** The default, written as in YAML (`"1MiB"`, `"5s"`, `1024`). */
  readonly default: OptionDefault;
  /** Unit of the number in {@linkcode Config}: `ms` for durations, `bytes` for sizes, `s` for seconds. */
  readonly unit?: "ms" | "bytes" | "s";
  /** Inclusive lower bound, in the option's own notation (`"10ms"`, `"1KiB"`, `1`). */
  readonly min?: number | string;
  /** Inclusive upper bound, in the option's own notation. */
  readonly max?: number | string;
  /** The allowed values of an `enum`. */
  readonly values?: readonly string[];
  /** Extra syntax checked on the value or on each list element. */
  readonly format?: OptionFormat;
  /** Whether an empty string is allowed (for `url`: "not set"). @default false */
  readonly allowEmpty?: boolean;
  /** One line for the reference table. */
  readonly doc: string;
}

/**
 * One egress budget (issue 11), from `egress_rate_limit.default` or one entry of
 * `egress_rate_limit.namespace_budgets`. Each budget is complete on its own: nothing is inherited from
 * `default`.
 */
export interface RateBudget {
  /** `records_per_second`: sustained records per second; > 0 (fractions allowed). */
  readonly recordsPerSecond: number;
  /** `burst_records`: most records passed at once after a quiet period; >= 1. Default: one second's worth. */
  readonly burstRecords: number;
  /** `bytes_per_second`: sustained body bytes per second; null (absent) means no byte limit. */
  readonly bytesPerSecond: number | null;
  /** `burst_bytes`: most bytes at once; defaults to one second of `bytes_per_second`; null without it. */
  readonly burstBytes: number | null;
  /** `on_limit`: `drop` counts and drops the excess; `delay` pauses the namespace's files. Default delay. */
  readonly onLimit: "drop" | "delay";
}

/** The validated, fully defaulted, deeply frozen configuration of the agent. */
export interface Config {
  include: readonly string[];
  exclude: readonly string[];
  namespaces: { include: readonly string[]; exclude: readonly string[] };
  startAt: "beginning" | "end";
  maxLogSizeBytes: number;
  partialFlushTimeoutMs: number;
  includeFilePath: boolean;
  memoryLimitBytes: number;
  shutdownTimeoutMs: number;
  nodeName: string;
  tail: {
    rescanIntervalMs: number;
    watchRescanIntervalMs: number;
    maxOpenFiles: number;
    maxTrackedFiles: number;
    rotateWaitMs: number;
    drainDeadlineMs: number;
    readBufferBytes: number;
    fingerprintBytes: number;
    closeInactiveMs: number;
    descriptorStarvationAfterMs: number;
  };
  cursor: { path: string; flushIntervalMs: number };
  exporter: {
    endpoint: string;
    headers: Readonly<Record<string, string>>;
    compression: "gzip" | "zstd" | "none";
    timeoutMs: number;
    maxConcurrentRequests: number;
    retryInitialIntervalMs: number;
    retryMaxIntervalMs: number;
    retryMaxElapsedMs: number;
  };
  batch: { maxRecords: number; maxBytes: number; maxDelayMs: number };
  telemetry: {
    listen: string;
    logLevel: "debug" | "info" | "warn" | "error";
    isStatusRemoteAllowed: boolean;
  };
  k8s: {
    mode: "auto" | "in_cluster" | "kubeconfig" | "off";
    kubeconfig: string;
    apiServer: string;
    tokenPath: string;
    caPath: string;
    tokenRefreshIntervalMs: number;
    watchIdleTimeoutMs: number;
    watchTimeoutSeconds: number;
    maxPods: number;
    deletedPodGraceMs: number;
    podLabels: readonly string[];
    podAnnotations: readonly string[];
  };
  attribution: {
    rankSource: readonly string[];
    jobIdSource: readonly string[];
    processRankRegex: string;
    maxRegexInputBytes: number;
  };
  // Training signals (issue 10)
  json: { enabled: boolean; mode: "body" | "attributes"; maxDepth: number; maxKeys: number };
  dataloader: { enabled: boolean; patterns: readonly string[]; maxInputBytes: number };
  metricsExport: { enabled: boolean; intervalMs: number };
  signals: { maxRankSeries: number; maxContainerSeries: number; rateWindowMs: number };
  egressRateLimit: {
    default: RateBudget | null;
    namespaceBudgets: Readonly<Record<string, RateBudget>>;
    maxKeys: number;
  };
  events: { enabled: boolean };
  eviction: {
    enabled: boolean;
    lastLines: number;
    maxLineBytes: number;
    maxContainerBytes: number;
    maxTotalBytes: number;
    matchWindowMs: number;
    maxWaitMs: number;
    dedupTtlMs: number;
  };
}

/** The environment variable `node_name` falls back to when it is empty. */
export const NODE_NAME_ENV = "K8S_NODE_NAME";

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Every option of the agent, in the order the reference lists them. Each key appears exactly once. */
export const CONFIG_SCHEMA: readonly OptionSpec[] = [
  // What to read
  {
    key: "include",
    field: "include",
    type: "string_list",
    default: ["/var/log/pods/*/*/*.log"],
    format: "path_glob",
    doc: "Absolute glob patterns of log files to tail (`*`, `**`, `?`)",
  },
  {
    key: "exclude",
    field: "exclude",
    type: "string_list",
    default: [],
    format: "path_glob",
    doc: "Glob patterns of files to skip even when included",
  },
  {
    key: "namespaces.include",
    field: "namespaces.include",
    type: "string_list",
    default: [],
    format: "namespace_pattern",
    doc: "Namespaces to read (exact names or `*` globs); empty means all",
  },
  {
    key: "namespaces.exclude",
    field: "namespaces.exclude",
    type: "string_list",
    default: [],
    format: "namespace_pattern",
    doc: "Namespaces to skip (exact names or `*` globs)",
  },
  {
    key: "start_at",
    field: "startAt",
    type: "enum",
    default: "beginning",
    values: ["beginning", "end"],
    doc: "Where to start in files found at first start, with no cursor",
  },
  {
    key: "max_log_size",
    field: "maxLogSizeBytes",
    type: "size",
    default: "1MiB",
    unit: "bytes",
    min: "1KiB",
    max: "64MiB",
    doc: "Largest record after stitching partial lines; longer ones are cut and flagged truncated",
  },
  {
    key: "partial_flush_timeout",
    field: "partialFlushTimeoutMs",
    type: "duration",
    default: "1s",
    unit: "ms",
    min: "10ms",
    max: "1h",
    doc: "How long an unfinished partial line waits at end of file before it is shipped as is",
  },
  {
    key: "include_file_path",
    field: "includeFilePath",
    type: "bool",
    default: true,
    doc:
      "Add log.file.path to every record (about a fifth of the per-record CPU; the resource already names the container)",
  },
  {
    key: "memory_limit",
    field: "memoryLimitBytes",
    type: "size",
    default: "64MiB",
    unit: "bytes",
    min: "1MiB",
    max: "8GiB",
    doc: "Ceiling of read but unacknowledged bytes; reading pauses above it (at least 4 x max_log_size)",
  },
  {
    key: "shutdown_timeout",
    field: "shutdownTimeoutMs",
    type: "duration",
    default: "10s",
    unit: "ms",
    min: "100ms",
    max: "10m",
    doc: "How long shutdown may take to flush batches and commit cursors",
  },
  {
    key: "node_name",
    field: "nodeName",
    type: "string",
    default: "",
    doc: `Node name for \`k8s.node.name\`; empty reads the ${NODE_NAME_ENV} environment variable`,
  },
  // Tailer
  {
    key: "tail.rescan_interval",
    field: "tail.rescanIntervalMs",
    type: "duration",
    default: "1s",
    unit: "ms",
    min: "100ms",
    max: "5m",
    doc: "Period of the directory rescan while the file watcher is down or has overflowed",
  },
  {
    key: "tail.watch_rescan_interval",
    field: "tail.watchRescanIntervalMs",
    type: "duration",
    default: "60s",
    unit: "ms",
    min: "100ms",
    max: "1h",
    doc: "Period of the safety rescan while the file watcher is healthy (its events trigger scans at once)",
  },
  {
    key: "tail.max_open_files",
    field: "tail.maxOpenFiles",
    type: "int",
    default: 1024,
    min: 1,
    max: 100_000,
    doc: "Most files held open at once (at most tail.max_tracked_files)",
  },
  {
    key: "tail.max_tracked_files",
    field: "tail.maxTrackedFiles",
    type: "int",
    default: 10_000,
    min: 1,
    max: 1_000_000,
    doc: "File identities tracked before FingerprintCardinality is raised",
  },
  {
    key: "tail.rotate_wait",
    field: "tail.rotateWaitMs",
    type: "duration",
    default: "5s",
    unit: "ms",
    min: "0",
    max: "1h",
    doc: "How long a rotated file stays open after it reached end of file",
  },
  {
    key: "tail.drain_deadline",
    field: "tail.drainDeadlineMs",
    type: "duration",
    default: "5m",
    unit: "ms",
    min: "1s",
    max: "24h",
    doc: "A rotated or deleted file still holding unread bytes after this counts as loss",
  },
  {
    key: "tail.read_buffer_size",
    field: "tail.readBufferBytes",
    type: "size",
    default: "1MiB",
    unit: "bytes",
    min: "64KiB",
    max: "16MiB",
    doc: "Most bytes one read takes from a file (reads of one turn share an arena of max(4MiB, this) + this)",
  },
  {
    key: "tail.fingerprint_size",
    field: "tail.fingerprintBytes",
    type: "size",
    default: "1KiB",
    unit: "bytes",
    min: "64B",
    max: "64KiB",
    doc: "Bytes at the head of a file hashed into its identity",
  },
  // Reader rebuild (issue 8): idle descriptors and descriptor starvation
  {
    key: "tail.close_inactive",
    field: "tail.closeInactiveMs",
    type: "duration",
    default: "5m",
    unit: "ms",
    min: "1s",
    max: "24h",
    doc:
      "A caught-up live file with no new bytes for this long gives its descriptor up (reopened when it grows)",
  },
  {
    key: "tail.descriptor_starvation_after",
    field: "tail.descriptorStarvationAfterMs",
    type: "duration",
    default: "1m",
    unit: "ms",
    min: "0",
    max: "24h",
    doc: "A file waiting this long for a descriptor under tail.max_open_files raises DescriptorStarvation",
  },
  // Cursor
  {
    key: "cursor.path",
    field: "cursor.path",
    type: "string",
    default: "/var/lib/containerstdout/cursor.kv",
    format: "file_path",
    doc: "Deno KV file holding the per-file read positions",
  },
  {
    key: "cursor.flush_interval",
    field: "cursor.flushIntervalMs",
    type: "duration",
    default: "1s",
    unit: "ms",
    min: "100ms",
    max: "1m",
    doc: "Period of the cursor commit (one atomic write per interval)",
  },
  // Exporter
  {
    key: "exporter.endpoint",
    field: "exporter.endpoint",
    type: "url",
    default: "http://127.0.0.1:4318",
    format: "otlp_endpoint",
    doc: "OTLP/HTTP base URL; records are posted to `<endpoint>/v1/logs`",
  },
  {
    key: "exporter.headers",
    field: "exporter.headers",
    type: "string_map",
    default: {},
    format: "http_headers",
    doc: "Extra HTTP headers on every export request (use `${env:NAME}` for secrets)",
  },
  {
    key: "exporter.compression",
    field: "exporter.compression",
    type: "enum",
    default: "gzip",
    values: ["gzip", "zstd", "none"],
    doc:
      "Request body compression; `zstd` (less CPU, 30-35% fewer bytes than gzip) needs an endpoint that accepts it",
  },
  {
    key: "exporter.timeout",
    field: "exporter.timeoutMs",
    type: "duration",
    default: "10s",
    unit: "ms",
    min: "100ms",
    max: "10m",
    doc: "Deadline of one export request",
  },
  {
    key: "exporter.max_concurrent_requests",
    field: "exporter.maxConcurrentRequests",
    type: "int",
    default: 2,
    min: 1,
    max: 64,
    doc: "Export requests in flight at once",
  },
  {
    key: "exporter.retry.initial_interval",
    field: "exporter.retryInitialIntervalMs",
    type: "duration",
    default: "500ms",
    unit: "ms",
    min: "10ms",
    max: "1m",
    doc: "First retry backoff (at most exporter.retry.max_interval)",
  },
  // 5s, not the 30s common elsewhere: while the endpoint fails, each in-flight request (2 by default)
  // probes it at most every 5s, a load no endpoint notices, and a request sleeping out a long backoff holds
  // its slot, so after an outage delivery could wait that long. Measured with `run.ts outage` (30s of 503):
  // records written early in the outage arrived up to 15.6s after recovery with 30s. A success also cuts
  // every other request's backoff short, and a Retry-After from the endpoint is honoured above this.
  {
    key: "exporter.retry.max_interval",
    field: "exporter.retryMaxIntervalMs",
    type: "duration",
    default: "5s",
    unit: "ms",
    min: "10ms",
    max: "1h",
    doc: "Largest retry backoff (a delivered request ends every other request's backoff at once)",
  },
  {
    key: "exporter.retry.max_elapsed",
    field: "exporter.retryMaxElapsedMs",
    type: "duration",
    default: 0,
    unit: "ms",
    min: "0",
    max: "24h",
    doc: "Give up on a batch after this long (counted drop); 0 retries until delivered",
  },
  // Batching
  {
    key: "batch.max_records",
    field: "batch.maxRecords",
    type: "int",
    default: 2048,
    min: 1,
    max: 100_000,
    doc: "Most records in one export request",
  },
  {
    key: "batch.max_bytes",
    field: "batch.maxBytes",
    type: "size",
    default: "1MiB",
    unit: "bytes",
    min: "1KiB",
    max: "64MiB",
    doc: "Most record bytes in one export request (at most memory_limit)",
  },
  {
    key: "batch.max_delay",
    field: "batch.maxDelayMs",
    type: "duration",
    // 100 ms, not the collector batch processor's 200 ms: a line can also wait up to one poll interval
    // (100 ms) in its file when writes are too frequent to watch, and the two together stay under the
    // 250 ms p99 a user sees from write(2) to the backend. Twice the requests at low rates cost ~0.1% of
    // a core (bench/RESULTS.md).
    default: "100ms",
    unit: "ms",
    min: "1ms",
    max: "1m",
    doc: "Longest a record waits in a batch before the batch is sent",
  },
  // Self-telemetry
  {
    key: "telemetry.listen",
    field: "telemetry.listen",
    type: "listen_address",
    default: "127.0.0.1:9464",
    allowEmpty: true,
    doc: "`host:port` or `[ipv6]:port` for /metrics, /healthz, /readyz, /status; empty disables",
  },
  {
    key: "telemetry.log_level",
    field: "telemetry.logLevel",
    type: "enum",
    default: "info",
    values: ["debug", "info", "warn", "error"],
    doc: "Lowest level of the agent's own log lines",
  },
  // /status (issue 12)
  {
    key: "telemetry.status_allow_remote",
    field: "telemetry.isStatusRemoteAllowed",
    type: "bool",
    default: false,
    doc: "Serve /status (file paths, pods, limiter state) to every client, not only loopback (port-forward)",
  },
  // Kubernetes
  {
    key: "k8s.mode",
    field: "k8s.mode",
    type: "enum",
    default: "auto",
    values: ["auto", "in_cluster", "kubeconfig", "off"],
    doc: "Pod metadata source; auto: in_cluster if KUBERNETES_SERVICE_HOST, kubeconfig if set, else off",
  },
  {
    key: "k8s.kubeconfig",
    field: "k8s.kubeconfig",
    type: "string",
    default: "",
    doc: "Kubeconfig file for mode kubeconfig (empty: the KUBECONFIG environment variable)",
  },
  {
    key: "k8s.api_server",
    field: "k8s.apiServer",
    type: "url",
    default: "",
    allowEmpty: true,
    doc: "API server URL; empty: `https://kubernetes.default.svc:443` in cluster, the kubeconfig's server",
  },
  {
    key: "k8s.token_path",
    field: "k8s.tokenPath",
    type: "string",
    default: `${SA_DIR}/token`,
    format: "file_path",
    doc: "Service account token file, reread every k8s.token_refresh_interval",
  },
  {
    key: "k8s.ca_path",
    field: "k8s.caPath",
    type: "string",
    default: `${SA_DIR}/ca.crt`,
    format: "file_path",
    doc: "CA bundle of the API server",
  },
  {
    key: "k8s.token_refresh_interval",
    field: "k8s.tokenRefreshIntervalMs",
    type: "duration",
    default: "1m",
    unit: "ms",
    min: "1s",
    max: "1h",
    doc: "How often the token file is reread (projected tokens rotate)",
  },
  {
    key: "k8s.watch_idle_timeout",
    field: "k8s.watchIdleTimeoutMs",
    type: "duration",
    default: "90s",
    unit: "ms",
    min: "5s",
    max: "1h",
    doc: "A watch silent for this long is restarted and raises Watch",
  },
  {
    key: "k8s.watch_timeout_seconds",
    field: "k8s.watchTimeoutSeconds",
    type: "int",
    default: 300,
    unit: "s",
    min: 10,
    max: 3600,
    doc: "Server-side `timeoutSeconds` of each watch request",
  },
  {
    key: "k8s.max_pods",
    field: "k8s.maxPods",
    type: "int",
    default: 2000,
    min: 1,
    max: 1_000_000,
    doc: "Most pods kept in the metadata cache",
  },
  {
    key: "k8s.deleted_pod_grace",
    field: "k8s.deletedPodGraceMs",
    type: "duration",
    default: "30s",
    unit: "ms",
    min: "0",
    max: "1h",
    doc: "How long a deleted pod's metadata stays after its files are drained",
  },
  {
    key: "k8s.pod_labels",
    field: "k8s.podLabels",
    type: "string_list",
    default: [],
    format: "metadata_key_or_regex",
    doc: "Pod label keys copied to the resource, or `/regex/` between slashes",
  },
  {
    key: "k8s.pod_annotations",
    field: "k8s.podAnnotations",
    type: "string_list",
    default: [],
    format: "metadata_key_or_regex",
    doc: "Pod annotation keys copied to the resource, or `/regex/` between slashes",
  },
  // Training attribution
  {
    key: "attribution.rank_source",
    field: "attribution.rankSource",
    type: "string_list",
    default: [
      "body",
      "env:RANK",
      "completion_index",
      "label:training.kubeflow.org/replica-index",
      "label:jobset.sigs.k8s.io/job-index",
    ],
    format: "rank_source",
    doc: "Where a record's rank comes from, first match wins: `body`, `env:`, `label:`, `annotation:`, " +
      "`completion_index`",
  },
  {
    key: "attribution.job_id_source",
    field: "attribution.jobIdSource",
    type: "string_list",
    default: [
      "label:training.kubeflow.org/job-name",
      "label:jobset.sigs.k8s.io/jobset-name",
      "label:batch.kubernetes.io/job-name",
      "env:JOB_ID",
    ],
    format: "job_id_source",
    doc: "Where a record's job id comes from, first match wins: `env:`, `label:`, `annotation:`, " +
      "`completion_index`",
  },
  {
    key: "attribution.process_rank_regex",
    field: "attribution.processRankRegex",
    type: "string",
    default: String.raw`^\[(?:rank|default)(?P<rank>\d+)\]:`,
    format: "rank_regex",
    doc: "RE2 pattern with a named group `rank`, matched at the start of a body for `body` rank",
  },
  {
    key: "attribution.max_regex_input_size",
    field: "attribution.maxRegexInputBytes",
    type: "size",
    default: "4KiB",
    unit: "bytes",
    min: "64B",
    max: "1MiB",
    doc: "Longest body prefix handed to the RE2 engine",
  },
  // Training signals (issue 10): JSON bodies, dataloader timings, rates, metrics export
  {
    key: "json.enabled",
    field: "json.enabled",
    type: "bool",
    default: true,
    doc: "Parse bodies that are one JSON object into structured data (others stay text, counted by reason)",
  },
  {
    key: "json.mode",
    field: "json.mode",
    type: "enum",
    default: "body",
    values: ["body", "attributes"],
    doc: "`body`: the object becomes a map body; `attributes`: text body, top-level fields as attributes",
  },
  {
    key: "json.max_depth",
    field: "json.maxDepth",
    type: "int",
    default: 8,
    min: 1,
    max: 64,
    doc: "Nesting levels kept; deeper objects and arrays become their JSON text (counted)",
  },
  {
    key: "json.max_keys",
    field: "json.maxKeys",
    type: "int",
    default: 128,
    min: 1,
    max: 100_000,
    doc: "Object entries plus array elements kept per body (all levels); the rest is dropped (counted)",
  },
  {
    key: "dataloader.enabled",
    field: "dataloader.enabled",
    type: "bool",
    default: true,
    doc: "Extract dataloader timings (data_time_s, iter_time_s) from bodies into attributes and summaries",
  },
  {
    key: "dataloader.patterns",
    field: "dataloader.patterns",
    type: "string_list",
    default: DEFAULT_DATALOADER_PATTERNS,
    format: "dataloader_regex",
    doc: "RE2 patterns with a group `data_time_s` and/or `iter_time_s` (seconds); docs/training-signals.md",
  },
  {
    key: "dataloader.max_input_size",
    field: "dataloader.maxInputBytes",
    type: "size",
    default: "4KiB",
    unit: "bytes",
    min: "64B",
    max: "1MiB",
    doc: "Longest body prefix handed to a dataloader pattern",
  },
  {
    key: "exporter.metrics",
    field: "metricsExport.enabled",
    type: "bool",
    default: false,
    doc: "Also post the training-signal metrics as OTLP to `<endpoint>/v1/metrics`",
  },
  {
    key: "exporter.metrics_interval",
    field: "metricsExport.intervalMs",
    type: "duration",
    default: "30s",
    unit: "ms",
    min: "1s",
    max: "1h",
    doc: "Period of the OTLP metrics export (values are cumulative)",
  },
  {
    key: "signals.max_rank_series",
    field: "signals.maxRankSeries",
    type: "int",
    default: 512,
    min: 1,
    max: 100_000,
    doc: "Most (job, rank) series of dataloader summaries; later ones share job=rank=`other` (counted)",
  },
  {
    key: "signals.max_container_series",
    field: "signals.maxContainerSeries",
    type: "int",
    default: 1000,
    min: 1,
    max: 100_000,
    doc: "Most containers with their own line and byte rate series; later ones share `other` (counted)",
  },
  {
    key: "signals.rate_window",
    field: "signals.rateWindowMs",
    type: "duration",
    default: "10s",
    unit: "ms",
    min: "1s",
    max: "10m",
    doc: "Shortest window the per-container rates are computed over",
  },
  // Egress budgets per namespace (issue 11). Budget fields: records_per_second, bytes_per_second,
  // burst_records, burst_bytes, on_limit (docs/configuration.md, "Rules across options").
  {
    key: "egress_rate_limit.default",
    field: "egressRateLimit.default",
    type: "rate_budget",
    default: null,
    doc: "Budget of every namespace without its own entry; null: such namespaces are not limited",
  },
  {
    key: "egress_rate_limit.namespace_budgets",
    field: "egressRateLimit.namespaceBudgets",
    type: "rate_budget_map",
    default: {},
    doc: "Budgets by namespace name, each complete on its own (nothing inherited from default)",
  },
  {
    key: "egress_rate_limit.max_keys",
    field: "egressRateLimit.maxKeys",
    type: "int",
    default: 1000,
    min: 1,
    max: 1_000_000,
    doc: "Most namespaces with a token bucket; evicting one still limited raises RateLimitCardinality",
  },
  // Eviction, preemption and OOM join (issue 10)
  {
    key: "events.enabled",
    field: "events.enabled",
    type: "bool",
    default: false,
    doc: "Also watch core/v1 Events for evictions, preemptions and OOM kills (the chart then grants them)",
  },
  {
    key: "eviction.enabled",
    field: "eviction.enabled",
    type: "bool",
    default: true,
    doc: "Emit one event record per pod eviction, preemption or OOM kill, with the pod's last lines",
  },
  {
    key: "eviction.last_lines",
    field: "eviction.lastLines",
    type: "int",
    default: 50,
    min: 1,
    max: 1000,
    doc: "Most recent records kept per container for an eviction record",
  },
  {
    key: "eviction.max_line_size",
    field: "eviction.maxLineBytes",
    type: "size",
    default: "4KiB",
    unit: "bytes",
    min: "64B",
    max: "1MiB",
    doc: "Longest body kept per remembered line; longer ones are cut in the eviction record only",
  },
  {
    key: "eviction.max_container_size",
    field: "eviction.maxContainerBytes",
    type: "size",
    default: "64KiB",
    unit: "bytes",
    min: "1KiB",
    max: "64MiB",
    doc: "Bytes of remembered lines per container (at most eviction.max_total_size)",
  },
  {
    key: "eviction.max_total_size",
    field: "eviction.maxTotalBytes",
    type: "size",
    default: "16MiB",
    unit: "bytes",
    min: "64KiB",
    max: "1GiB",
    doc: "Bytes of remembered lines overall; over it the largest rings lose their oldest lines",
  },
  {
    key: "eviction.match_window",
    field: "eviction.matchWindowMs",
    type: "duration",
    default: "30s",
    unit: "ms",
    min: "1s",
    max: "1h",
    doc: "Lines written this long before an eviction belong to it (and are tagged k8s.pod.eviction.reason)",
  },
  {
    key: "eviction.max_wait",
    field: "eviction.maxWaitMs",
    type: "duration",
    default: "5s",
    unit: "ms",
    min: "0",
    max: "10m",
    doc: "Longest an eviction record waits for its pod's last lines to be read",
  },
  {
    key: "eviction.dedup_ttl",
    field: "eviction.dedupTtlMs",
    type: "duration",
    default: "24h",
    unit: "ms",
    min: "1m",
    max: "720h",
    doc: "How long emitted evictions are remembered (in the cursor store) so a restart does not repeat them",
  },
];
