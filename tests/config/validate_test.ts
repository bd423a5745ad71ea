import assert from "node:assert/strict";
import fc from "fast-check";
import { type Config, CONFIG_SCHEMA } from "../../src/config/schema.ts";
import { ConfigError, type ConfigProblem, validateConfig } from "../../src/config/validate.ts";
import { assertProperty } from "../_helpers/property.ts";

const noEnv = (): undefined => undefined;

function envOf(vars: Record<string, string>): (name: string) => string | undefined {
  return (name) => Object.hasOwn(vars, name) ? vars[name] : undefined;
}

const DEFAULT_CONFIG: Config = {
  include: ["/var/log/pods/*/*/*.log"],
  exclude: [],
  namespaces: { include: [], exclude: [] },
  startAt: "beginning",
  maxLogSizeBytes: 1_048_576,
  partialFlushTimeoutMs: 1_000,
  includeFilePath: true,
  memoryLimitBytes: 67_108_864,
  shutdownTimeoutMs: 10_000,
  nodeName: "",
  tail: {
    rescanIntervalMs: 1_000,
    watchRescanIntervalMs: 60_000,
    maxOpenFiles: 1_024,
    maxTrackedFiles: 10_000,
    rotateWaitMs: 5_000,
    drainDeadlineMs: 300_000,
    readBufferBytes: 1_048_576,
    fingerprintBytes: 1_024,
    closeInactiveMs: 300_000,
    descriptorStarvationAfterMs: 60_000,
  },
  cursor: { path: "/var/lib/containerstdout/cursor.kv", flushIntervalMs: 1_000 },
  exporter: {
    endpoint: "http://127.0.0.1:4318",
    headers: {},
    compression: "gzip",
    timeoutMs: 10_000,
    maxConcurrentRequests: 2,
    retryInitialIntervalMs: 500,
    retryMaxIntervalMs: 5_000,
    retryMaxElapsedMs: 0,
  },
  batch: { maxRecords: 2_048, maxBytes: 1_048_576, maxDelayMs: 100 },
  telemetry: { listen: "127.0.0.1:9464", logLevel: "info", isStatusRemoteAllowed: false },
  k8s: {
    mode: "auto",
    kubeconfig: "",
    apiServer: "",
    tokenPath: "/var/run/secrets/kubernetes.io/serviceaccount/token",
    caPath: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
    tokenRefreshIntervalMs: 60_000,
    watchIdleTimeoutMs: 90_000,
    watchTimeoutSeconds: 300,
    maxPods: 2_000,
    deletedPodGraceMs: 30_000,
    podLabels: [],
    podAnnotations: [],
  },
  attribution: {
    rankSource: [
      "body",
      "env:RANK",
      "completion_index",
      "label:training.kubeflow.org/replica-index",
      "label:jobset.sigs.k8s.io/job-index",
    ],
    jobIdSource: [
      "label:training.kubeflow.org/job-name",
      "label:jobset.sigs.k8s.io/jobset-name",
      "label:batch.kubernetes.io/job-name",
      "env:JOB_ID",
    ],
    processRankRegex: String.raw`^\[(?:rank|default)(?P<rank>\d+)\]:`,
    maxRegexInputBytes: 4_096,
  },
  json: { enabled: true, mode: "body", maxDepth: 8, maxKeys: 128 },
  dataloader: {
    enabled: true,
    patterns: [
      String.raw`data_time(?:_s)?"?[ \t]*[=:][ \t]*(?P<data_time_s>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)`,
      String.raw`iter_time(?:_s)?"?[ \t]*[=:][ \t]*(?P<iter_time_s>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)`,
      String.raw` "?time"?[ \t]*[=:][ \t]*(?P<iter_time_s>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)`,
    ],
    maxInputBytes: 4_096,
  },
  metricsExport: { enabled: false, intervalMs: 30_000 },
  signals: { maxRankSeries: 512, maxContainerSeries: 1_000, rateWindowMs: 10_000 },
  egressRateLimit: { default: null, namespaceBudgets: {}, maxKeys: 1_000 },
  events: { enabled: false },
  eviction: {
    enabled: true,
    lastLines: 50,
    maxLineBytes: 4_096,
    maxContainerBytes: 65_536,
    maxTotalBytes: 16_777_216,
    matchWindowMs: 30_000,
    maxWaitMs: 5_000,
    dedupTtlMs: 86_400_000,
  },
};

function mustValidate(raw: unknown, env: (name: string) => string | undefined = noEnv): Config {
  const result = validateConfig(raw, { env });
  if (!result.ok) assert.fail(result.errors.map((e) => `${e.path}: ${e.message}`).join("\n"));
  return result.value;
}

function isDeeplyFrozen(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return true;
  return Object.isFrozen(value) && Object.values(value).every(isDeeplyFrozen);
}

Deno.test("validateConfig turns an empty document into the full default config", () => {
  for (const raw of [{}, null, undefined]) assert.deepEqual(mustValidate(raw), DEFAULT_CONFIG);
});

Deno.test("validateConfig returns a deeply frozen config", () => {
  const config = mustValidate({ exporter: { headers: { "x-a": "b" } }, include: ["/a/*.log"] });
  assert.ok(isDeeplyFrozen(config));
  assert.throws(() => (config.include as string[]).push("/x"), TypeError);
});

Deno.test("validateConfig does not share mutable state with its input", () => {
  const raw = { include: ["/a/*.log"], exporter: { headers: { "x-a": "b" } } };
  const config = mustValidate(raw);
  raw.include.push("/b/*.log");
  raw.exporter.headers["x-a"] = "changed";
  assert.deepEqual(config.include, ["/a/*.log"]);
  assert.equal(config.exporter.headers["x-a"], "b");
});

interface ValidCase {
  name: string;
  raw: unknown;
  env?: Record<string, string>;
  pick: (config: Config) => unknown;
  want: unknown;
}

const VALID_CASES: ValidCase[] = [
  {
    name: "a duration with units",
    raw: { tail: { rescan_interval: "1m30s" } },
    pick: (c) => c.tail.rescanIntervalMs,
    want: 90_000,
  },
  {
    name: "a bare zero duration",
    raw: { tail: { rotate_wait: 0 } },
    pick: (c) => c.tail.rotateWaitMs,
    want: 0,
  },
  { name: "a decimal size", raw: { max_log_size: "10KB" }, pick: (c) => c.maxLogSizeBytes, want: 10_000 },
  {
    name: "a bare integer size",
    raw: { tail: { fingerprint_size: 4096 } },
    pick: (c) => c.tail.fingerprintBytes,
    want: 4_096,
  },
  { name: "an int", raw: { k8s: { max_pods: 5 } }, pick: (c) => c.k8s.maxPods, want: 5 },
  { name: "an enum", raw: { start_at: "end" }, pick: (c) => c.startAt, want: "end" },
  { name: "a null leaf as its default", raw: { start_at: null }, pick: (c) => c.startAt, want: "beginning" },
  {
    name: "a null section as its defaults",
    raw: { tail: null },
    pick: (c) => c.tail.maxOpenFiles,
    want: 1_024,
  },
  {
    name: "an endpoint with a trailing slash",
    raw: { exporter: { endpoint: "https://otel.example:4318/" } },
    pick: (c) => c.exporter.endpoint,
    want: "https://otel.example:4318",
  },
  {
    name: "an endpoint with a path prefix",
    raw: { exporter: { endpoint: "http://gw/otlp/" } },
    pick: (c) => c.exporter.endpoint,
    want: "http://gw/otlp",
  },
  {
    name: "an API server override",
    raw: { k8s: { api_server: "https://kubernetes.default.svc" } },
    pick: (c) => c.k8s.apiServer,
    want: "https://kubernetes.default.svc",
  },
  {
    name: "an IPv6 listen address",
    raw: { telemetry: { listen: "[::1]:0" } },
    pick: (c) => c.telemetry.listen,
    want: "[::1]:0",
  },
  {
    name: "a host name listen address",
    raw: { telemetry: { listen: "localhost:9464" } },
    pick: (c) => c.telemetry.listen,
    want: "localhost:9464",
  },
  {
    name: "an empty listen address",
    raw: { telemetry: { listen: "" } },
    pick: (c) => c.telemetry.listen,
    want: "",
  },
  {
    name: "namespace globs",
    raw: { namespaces: { include: ["team-*", "ml"] } },
    pick: (c) => c.namespaces.include,
    want: ["team-*", "ml"],
  },
  {
    name: "label keys and a regex",
    raw: { k8s: { pod_labels: ["app", "app.kubernetes.io/name", "/^team\\./"] } },
    pick: (c) => c.k8s.podLabels,
    want: ["app", "app.kubernetes.io/name", "/^team\\./"],
  },
  {
    name: "every kind of rank source",
    raw: {
      attribution: {
        rank_source: ["annotation:a.io/rank", "env:PMIX_RANK", "body", "completion_index", "label:rank"],
      },
    },
    pick: (c) => c.attribution.rankSource.length,
    want: 5,
  },
  {
    name: "a JS-style named group",
    raw: { attribution: { process_rank_regex: "^(?<rank>\\d+):" } },
    pick: (c) => c.attribution.processRankRegex,
    want: "^(?<rank>\\d+):",
  },
  {
    name: "a glob with ** and ?",
    raw: { include: ["/var/log/pods/**/?.log"] },
    pick: (c) => c.include,
    want: ["/var/log/pods/**/?.log"],
  },
  {
    name: "headers",
    raw: { exporter: { headers: { Authorization: "Bearer x", "x-scope": "a" } } },
    pick: (c) => c.exporter.headers,
    want: { Authorization: "Bearer x", "x-scope": "a" },
  },
  {
    name: "a node name from K8S_NODE_NAME",
    raw: {},
    env: { K8S_NODE_NAME: "gpu-7" },
    pick: (c) => c.nodeName,
    want: "gpu-7",
  },
  {
    name: "an explicit node name over K8S_NODE_NAME",
    raw: { node_name: "n1" },
    env: { K8S_NODE_NAME: "gpu-7" },
    pick: (c) => c.nodeName,
    want: "n1",
  },
  {
    name: "a kubeconfig from KUBECONFIG",
    raw: { k8s: { mode: "kubeconfig" } },
    env: { KUBECONFIG: "/k" },
    pick: (c) => c.k8s.kubeconfig,
    want: "/k",
  },
  {
    name: "an env reference in a string",
    raw: { cursor: { path: "${env:DIR}/c.kv" } },
    env: { DIR: "/data" },
    pick: (c) => c.cursor.path,
    want: "/data/c.kv",
  },
  {
    name: "an env reference in a list item",
    raw: { include: ["${env:ROOT}/*/*.log"] },
    env: { ROOT: "/logs" },
    pick: (c) => c.include,
    want: ["/logs/*/*.log"],
  },
  {
    name: "an env reference in a header value",
    raw: { exporter: { headers: { authorization: "Bearer ${env:T}" } } },
    env: { T: "s3cr3t" },
    pick: (c) => c.exporter.headers.authorization,
    want: "Bearer s3cr3t",
  },
  {
    name: "an env reference that holds a size",
    raw: { memory_limit: "${env:MEM}" },
    env: { MEM: "128MiB" },
    pick: (c) => c.memoryLimitBytes,
    want: 128 * 2 ** 20,
  },
  {
    name: "an env reference set to empty",
    raw: { node_name: "x${env:E}" },
    env: { E: "" },
    pick: (c) => c.nodeName,
    want: "x",
  },
  {
    name: "an escaped reference",
    raw: { exporter: { headers: { x: "$${env:T}" } } },
    pick: (c) => c.exporter.headers.x,
    want: "${env:T}",
  },
  {
    name: "an env value that itself contains a reference, unexpanded",
    raw: { node_name: "${env:A}" },
    env: { A: "${env:B}" },
    pick: (c) => c.nodeName,
    want: "${env:B}",
  },
];

for (const { name, raw, env, pick, want } of VALID_CASES) {
  Deno.test(`validateConfig accepts ${name}`, () => {
    assert.deepEqual(pick(mustValidate(raw, envOf(env ?? {}))), want);
  });
}

interface ProblemCase {
  name: string;
  raw: unknown;
  env?: (name: string) => string | undefined;
  /** Every expected problem in order: path and a fragment of its message. */
  want: [path: string, messageFragment: string][];
}

const LONG = "x".repeat(1_100);

const PROBLEM_CASES: ProblemCase[] = [
  // Document shape and keys
  { name: "a list as the document", raw: ["a"], want: [["", "Expected a mapping of options, got a list"]] },
  {
    name: "a string as the document",
    raw: "tail: 1",
    want: [["", "Expected a mapping of options, got the string"]],
  },
  {
    name: "a scalar section",
    raw: { tail: 5 },
    want: [["tail", "Expected a mapping of options, got number 5"]],
  },
  {
    name: "a list section",
    raw: { exporter: { retry: [] } },
    want: [["exporter.retry", "Expected a mapping of options, got a list"]],
  },
  {
    name: "a misspelt nested key",
    raw: { tail: { max_open_file: 3 } },
    want: [["tail.max_open_file", "Unknown key, did you mean tail.max_open_files"]],
  },
  {
    name: "a key at the wrong level",
    raw: { rotate_wait: "1s" },
    want: [["rotate_wait", "Unknown key, did you mean tail.rotate_wait"]],
  },
  {
    name: "a camelCase key",
    raw: { maxLogSize: "1MiB" },
    want: [["maxLogSize", "Unknown key, did you mean max_log_size"]],
  },
  {
    name: "a key deep in a section",
    raw: { exporter: { retry: { max_elapsd: "1s" } } },
    want: [["exporter.retry.max_elapsd", "did you mean exporter.retry.max_elapsed"]],
  },
  {
    name: "a dotted key",
    raw: { "tail.rescan_interval": "2s" },
    want: [["tail.rescan_interval", "Unknown key, nest sections instead of dots"]],
  },
  { name: "a key nothing resembles", raw: { zzzzzz: 1 }, want: [["zzzzzz", "Unknown key"]] },
  {
    name: "a prototype-named key",
    raw: JSON.parse('{"__proto__": {"x": 1}}'),
    want: [["__proto__", "Unknown key"]],
  },
  // Types
  {
    name: "a number for a string",
    raw: { cursor: { path: 5 } },
    want: [["cursor.path", "Expected a string, got number 5"]],
  },
  {
    name: "a string for a list",
    raw: { include: "/var/log/*.log" },
    want: [["include", "Expected a list of strings, got the string"]],
  },
  { name: "a number in a list", raw: { exclude: ["/a", 3] }, want: [["exclude", "item 1 is number 3"]] },
  {
    name: "a list for a map",
    raw: { exporter: { headers: ["a"] } },
    want: [["exporter.headers", "Expected a mapping of strings, got a list"]],
  },
  {
    name: "a number in a map",
    raw: { exporter: { headers: { "x-id": 7 } } },
    want: [["exporter.headers", "x-id is number 7 (quote it)"]],
  },
  {
    name: "a string for an int",
    raw: { tail: { max_open_files: "10" } },
    want: [["tail.max_open_files", "Expected an integer, got the string"]],
  },
  {
    name: "a fraction for an int",
    raw: { batch: { max_records: 1.5 } },
    want: [["batch.max_records", "Expected an integer, got number 1.5"]],
  },
  {
    name: "an int below its minimum",
    raw: { exporter: { max_concurrent_requests: 0 } },
    want: [["exporter.max_concurrent_requests", "Must be at least 1, got 0"]],
  },
  {
    name: "an int above its maximum",
    raw: { exporter: { max_concurrent_requests: 65 } },
    want: [["exporter.max_concurrent_requests", "Must be at most 64, got 65"]],
  },
  {
    name: "a boolean for a duration",
    raw: { shutdown_timeout: true },
    want: [["shutdown_timeout", "Expected a duration like 250ms, 2s or 1m30s, got boolean true"]],
  },
  {
    name: "a duration without a unit",
    raw: { shutdown_timeout: 5 },
    want: [["shutdown_timeout", 'Invalid duration 5: "5" needs a unit']],
  },
  {
    name: "a duration with an unknown unit",
    raw: { shutdown_timeout: "5sec" },
    want: [["shutdown_timeout", 'unknown unit "sec"']],
  },
  {
    name: "a fractional duration",
    raw: { partial_flush_timeout: "1.5s" },
    want: [["partial_flush_timeout", "fractions are not supported"]],
  },
  {
    name: "a duration below its minimum",
    raw: { cursor: { flush_interval: "50ms" } },
    want: [["cursor.flush_interval", "Must be at least 100ms, got 50ms"]],
  },
  {
    name: "a duration above its maximum",
    raw: { tail: { rescan_interval: "6m" } },
    want: [["tail.rescan_interval", "Must be at most 5m, got 6m"]],
  },
  {
    name: "a mapping for a size",
    raw: { max_log_size: {} },
    want: [["max_log_size", "Expected a size like 512B, 16KiB or 1MiB, got a mapping"]],
  },
  {
    name: "a size with a lower-case unit",
    raw: { max_log_size: "16kb" },
    want: [["max_log_size", 'unknown unit "kb"']],
  },
  {
    name: "a size below its minimum",
    raw: { tail: { read_buffer_size: "32KiB" } },
    want: [["tail.read_buffer_size", "Must be at least 64KiB, got 32KiB"]],
  },
  {
    name: "a size above its maximum",
    raw: { attribution: { max_regex_input_size: "2MiB" } },
    want: [["attribution.max_regex_input_size", "Must be at most 1MiB, got 2MiB"]],
  },
  {
    name: "a misspelt enum",
    raw: { start_at: "begining" },
    want: [[
      "start_at",
      'Expected one of beginning, end, got the string "begining" (did you mean beginning)',
    ]],
  },
  {
    name: "a number for an enum",
    raw: { telemetry: { log_level: 3 } },
    want: [["telemetry.log_level", "Expected one of debug, info, warn, error, got number 3"]],
  },
  // URLs
  {
    name: "a number for a URL",
    raw: { exporter: { endpoint: 4318 } },
    want: [["exporter.endpoint", "Expected an http(s) URL, got number 4318"]],
  },
  {
    name: "text that is no URL",
    raw: { exporter: { endpoint: "collector:4318" } },
    want: [["exporter.endpoint", "Expected an http or https URL"]],
  },
  {
    name: "an unparsable URL",
    raw: { exporter: { endpoint: "http://[::1" } },
    want: [["exporter.endpoint", "Expected an http(s) URL, got"]],
  },
  {
    name: "a non-HTTP scheme",
    raw: { exporter: { endpoint: "grpc://c:4317" } },
    want: [["exporter.endpoint", "Expected an http or https URL"]],
  },
  {
    name: "a URL without slashes",
    raw: { k8s: { api_server: "https:host" } },
    want: [["k8s.api_server", "Expected an http or https URL"]],
  },
  {
    name: "credentials in a URL",
    raw: { exporter: { endpoint: "http://u:p@c:4318" } },
    want: [["exporter.endpoint", "Credentials in the URL are not allowed"]],
  },
  {
    name: "a query in a URL",
    raw: { exporter: { endpoint: "http://c:4318?a=1" } },
    want: [["exporter.endpoint", "Query and fragment are not allowed"]],
  },
  {
    name: "a fragment in a URL",
    raw: { k8s: { api_server: "https://k#x" } },
    want: [["k8s.api_server", "Query and fragment are not allowed"]],
  },
  {
    name: "an empty endpoint",
    raw: { exporter: { endpoint: "" } },
    want: [["exporter.endpoint", "Expected an http(s) URL"]],
  },
  {
    name: "an endpoint that names the signal path",
    raw: { exporter: { endpoint: "http://c:4318/v1/logs/" } },
    want: [["exporter.endpoint", "Give the base URL without /v1/logs"]],
  },
  // Listen addresses
  {
    name: "a number for a listen address",
    raw: { telemetry: { listen: 9464 } },
    want: [["telemetry.listen", "Expected host:port, got number 9464"]],
  },
  {
    name: "a listen address without a port",
    raw: { telemetry: { listen: "127.0.0.1" } },
    want: [["telemetry.listen", "Expected host:port or [ipv6]:port"]],
  },
  {
    name: "an IPv6 listen address without brackets",
    raw: { telemetry: { listen: "::1:9464" } },
    want: [["telemetry.listen", "IPv6 addresses need brackets"]],
  },
  {
    name: "a bad IPv6 address",
    raw: { telemetry: { listen: "[zz]:9464" } },
    want: [["telemetry.listen", "Invalid IPv6 address: zz"]],
  },
  {
    name: "a port above 65535",
    raw: { telemetry: { listen: "127.0.0.1:65536" } },
    want: [["telemetry.listen", "Port out of range 0..65535: 65536"]],
  },
  {
    name: "a listen address without a host",
    raw: { telemetry: { listen: ":9464" } },
    want: [["telemetry.listen", "Missing host, use 0.0.0.0:9464"]],
  },
  {
    name: "a listen host with a space",
    raw: { telemetry: { listen: "a b:1" } },
    want: [["telemetry.listen", 'Invalid host: "a b"']],
  },
  // Formats
  {
    name: "a relative include pattern",
    raw: { include: ["var/log/*.log"] },
    want: [["include[0]", 'Must be an absolute path pattern: "var/log/*.log"']],
  },
  {
    name: "a character class in a pattern",
    raw: { exclude: ["/a/[ab].log"] },
    want: [["exclude[0]", "Unsupported glob syntax"]],
  },
  {
    name: "a brace pattern",
    raw: { exclude: ["/a/{x,y}.log"] },
    want: [["exclude[0]", "Unsupported glob syntax"]],
  },
  {
    name: "** inside a segment",
    raw: { include: ["/a/**x/b"] },
    want: [["include[0]", "Pattern ** must be a whole path segment"]],
  },
  {
    name: "a repeated pattern",
    raw: { include: ["/a/*.log", "/a/*.log"] },
    want: [["include[1]", 'Duplicate entry: "/a/*.log"']],
  },
  {
    name: "an upper-case namespace",
    raw: { namespaces: { exclude: ["Kube-System"] } },
    want: [["namespaces.exclude[0]", "Not a namespace name"]],
  },
  {
    name: "a namespace longer than 63",
    raw: { namespaces: { include: ["a".repeat(64)] } },
    want: [["namespaces.include[0]", "Not a namespace name"]],
  },
  {
    name: "an empty label regex",
    raw: { k8s: { pod_labels: ["//"] } },
    want: [["k8s.pod_labels[0]", 'Empty /regex/: "//"']],
  },
  {
    name: "a label regex longer than 1024",
    raw: { k8s: { pod_annotations: [`/${LONG}/`] } },
    want: [["k8s.pod_annotations[0]", "Pattern longer than 1024 characters"]],
  },
  {
    name: "a bad label key",
    raw: { k8s: { pod_labels: ["Bad Key"] } },
    want: [["k8s.pod_labels[0]", "Not a Kubernetes metadata key"]],
  },
  {
    name: "a bad label prefix",
    raw: { k8s: { pod_labels: ["Example.COM/x"] } },
    want: [["k8s.pod_labels[0]", "Not a Kubernetes metadata key"]],
  },
  {
    name: "an unknown rank source",
    raw: { attribution: { rank_source: ["hostname"] } },
    want: [[
      "attribution.rank_source[0]",
      'Unknown source, expected one of label:<key>, annotation:<key>, env:<NAME>, completion_index, body: "hostname"',
    ]],
  },
  {
    name: "body with an argument",
    raw: { attribution: { rank_source: ["body:x"] } },
    want: [["attribution.rank_source[0]", "Source body takes no argument"]],
  },
  {
    name: "completion_index with an argument",
    raw: { attribution: { rank_source: ["completion_index:1"] } },
    want: [["attribution.rank_source[0]", "Source completion_index takes no argument"]],
  },
  {
    name: "a label source without a key",
    raw: { attribution: { rank_source: ["label:"] } },
    want: [["attribution.rank_source[0]", "Source label needs a Kubernetes metadata key"]],
  },
  {
    name: "an annotation source with a bad key",
    raw: { attribution: { job_id_source: ["annotation:a b"] } },
    want: [["attribution.job_id_source[0]", "Source annotation needs a Kubernetes metadata key"]],
  },
  {
    name: "an env source with a bad name",
    raw: { attribution: { rank_source: ["env:1RANK"] } },
    want: [["attribution.rank_source[0]", "Source env needs a variable name"]],
  },
  {
    name: "an env source without a name",
    raw: { attribution: { job_id_source: ["env"] } },
    want: [["attribution.job_id_source[0]", "Source env needs a variable name"]],
  },
  {
    name: "a repeated rank source",
    raw: { attribution: { rank_source: ["body", "body"] } },
    want: [["attribution.rank_source[1]", "Duplicate entry"]],
  },
  {
    name: "body as a job id source",
    raw: { attribution: { job_id_source: ["body"] } },
    want: [["attribution.job_id_source[0]", "Source body is only allowed in attribution.rank_source"]],
  },
  {
    name: "an unknown job id source",
    raw: { attribution: { job_id_source: ["body2"] } },
    want: [[
      "attribution.job_id_source[0]",
      "expected one of label:<key>, annotation:<key>, env:<NAME>, completion_index:",
    ]],
  },
  {
    name: "an invalid header name",
    raw: { exporter: { headers: { "bad header": "x" } } },
    want: [["exporter.headers.bad header", "Not a valid HTTP header name"]],
  },
  {
    name: "a header the exporter sets",
    raw: { exporter: { headers: { "Content-Encoding": "br" } } },
    want: [["exporter.headers.Content-Encoding", "Header is set by the exporter"]],
  },
  {
    name: "a header given twice in different case",
    raw: { exporter: { headers: { "X-A": "1", "x-a": "2" } } },
    want: [["exporter.headers.x-a", "Duplicate header (names ignore case)"]],
  },
  {
    name: "a header value with a newline",
    raw: { exporter: { headers: { "x-a": "1\r\nx-b: 2" } } },
    want: [["exporter.headers.x-a", "Header value must not contain CR, LF or NUL"]],
  },
  {
    name: "an empty rank regex",
    raw: { attribution: { process_rank_regex: "" } },
    want: [["attribution.process_rank_regex", "Must not be empty"]],
  },
  {
    name: "a rank regex longer than 1024",
    raw: { attribution: { process_rank_regex: `(?P<rank>\\d+)${LONG}` } },
    want: [["attribution.process_rank_regex", "Pattern longer than 1024 characters: 1113"]],
  },
  {
    name: "a rank regex without the rank group",
    raw: { attribution: { process_rank_regex: "^\\[rank(\\d+)\\]" } },
    want: [["attribution.process_rank_regex", "Pattern needs a named group rank"]],
  },
  {
    name: "an empty cursor path",
    raw: { cursor: { path: "" } },
    want: [["cursor.path", "Must not be empty"]],
  },
  {
    name: "a NUL in a file path",
    raw: { k8s: { token_path: "/a\0b" } },
    want: [["k8s.token_path", "Must not contain NUL"]],
  },
  // Environment references
  {
    name: "a missing variable",
    raw: { exporter: { endpoint: "${env:OTLP}" } },
    want: [["exporter.endpoint", "Environment variable is not set: OTLP"]],
  },
  {
    name: "two missing variables in one value",
    raw: { node_name: "${env:A}-${env:B}" },
    want: [["node_name", "not set: A"], ["node_name", "not set: B"]],
  },
  {
    name: "a missing variable in a list item",
    raw: { include: ["/a", "${env:ROOT}/*.log"] },
    want: [["include[1]", "Environment variable is not set: ROOT"]],
  },
  {
    name: "a missing variable in a header",
    raw: { exporter: { headers: { authorization: "${env:TOKEN}" } } },
    want: [["exporter.headers.authorization", "Environment variable is not set: TOKEN"]],
  },
  {
    name: "an unterminated reference",
    raw: { node_name: "${env:A" },
    want: [["node_name", 'Unterminated reference "${env:A": no closing "}"']],
  },
  {
    name: "a reference without env:",
    raw: { node_name: "${HOSTNAME}" },
    want: [["node_name", "Unsupported reference ${HOSTNAME}, write ${env:NAME}"]],
  },
  {
    name: "a reference with a bad name",
    raw: { node_name: "${env:1A}" },
    want: [["node_name", "Invalid environment variable name: ${env:1A}"]],
  },
  {
    name: "a variable the permissions hide",
    raw: { node_name: "${env:SECRET}" },
    env: () => {
      throw new Error("Requires env access");
    },
    want: [
      ["node_name", "Cannot read environment variable SECRET: Requires env access"],
      ["k8s.kubeconfig", "Cannot read environment variable KUBECONFIG: Requires env access"],
    ],
  },
  {
    name: "an unreadable K8S_NODE_NAME",
    raw: {},
    env: (n) => {
      if (n === "K8S_NODE_NAME") throw new Error("denied");
    },
    want: [["node_name", "Cannot read environment variable K8S_NODE_NAME: denied"]],
  },
  {
    name: "an env value of the wrong unit",
    raw: { memory_limit: "${env:MEM}" },
    env: envOf({ MEM: "64mb" }),
    want: [["memory_limit", 'Invalid size "64mb"']],
  },
  // Rules across options
  {
    name: "a memory limit under 4 x max_log_size",
    raw: { max_log_size: "8MiB", memory_limit: "16MiB" },
    want: [["memory_limit", "Must be at least 4 x max_log_size (32MiB)"]],
  },
  {
    name: "a batch larger than the memory limit",
    raw: { memory_limit: "4MiB", batch: { max_bytes: "8MiB" } },
    want: [["batch.max_bytes", "Must be at most memory_limit (4MiB)"]],
  },
  {
    name: "more open files than tracked files",
    raw: { tail: { max_open_files: 200, max_tracked_files: 100 } },
    want: [["tail.max_open_files", "Must be at most tail.max_tracked_files (100)"]],
  },
  {
    name: "a first retry longer than the longest",
    raw: { exporter: { retry: { initial_interval: "1m", max_interval: "10s" } } },
    want: [["exporter.retry.initial_interval", "Must be at most exporter.retry.max_interval (10s)"]],
  },
  {
    name: "mode kubeconfig without a kubeconfig",
    raw: { k8s: { mode: "kubeconfig" } },
    want: [["k8s.kubeconfig", "Required when k8s.mode is kubeconfig"]],
  },
  {
    name: "an eviction ring per container larger than all rings together",
    raw: { eviction: { max_container_size: "1MiB", max_total_size: "512KiB" } },
    want: [["eviction.max_container_size", "Must be at most eviction.max_total_size (512KiB)"]],
  },
  {
    name: "a remembered line longer than its container's ring",
    raw: { eviction: { max_line_size: "8KiB", max_container_size: "4KiB" } },
    want: [["eviction.max_line_size", "Must be at most eviction.max_container_size (4KiB)"]],
  },
];

function assertProblems(errors: ConfigProblem[], want: [string, string][]): void {
  const shown = errors.map((e) => `${e.path}: ${e.message}`).join("\n");
  assert.equal(errors.length, want.length, shown);
  want.forEach(([path, fragment], i) => {
    assert.equal(errors[i].path, path, shown);
    assert.ok(errors[i].message.includes(fragment), `want "${fragment}" in:\n${shown}`);
  });
}

for (const { name, raw, env, want } of PROBLEM_CASES) {
  Deno.test(`validateConfig reports ${name}`, () => {
    const result = validateConfig(raw, { env: env ?? noEnv });
    assert.equal(result.ok, false);
    if (!result.ok) assertProblems(result.errors, want);
  });
}

Deno.test("validateConfig reports every problem of a document at once", () => {
  const raw = {
    tail: { max_open_file: 1, rescan_interval: "1.5s" },
    start_at: "middle",
    exporter: { endpoint: "ftp://x", headers: { host: "x" } },
    attribution: { rank_source: ["bogus"] },
    memory_limit: "1MiB",
  };
  const result = validateConfig(raw, { env: noEnv });
  assert.ok(!result.ok);
  assertProblems(result.errors, [
    ["tail.max_open_file", "Unknown key"],
    ["start_at", "Expected one of"],
    ["tail.rescan_interval", "fractions"],
    ["exporter.endpoint", "http or https"],
    ["exporter.headers.host", "set by the exporter"],
    ["attribution.rank_source[0]", "Unknown source"],
    ["memory_limit", "Must be at least 4 x max_log_size"],
  ]);
});

Deno.test("ConfigError lists every problem as one key path line each", () => {
  const error = new ConfigError([
    { path: "tail.max_open_files", message: "Must be at most 100000, got 100001" },
    { path: "", message: "Expected a mapping of options, got a list" },
  ]);
  assert.equal(error.name, "ConfigError");
  assert.equal(
    error.message,
    "tail.max_open_files: Must be at most 100000, got 100001\n(root): Expected a mapping of options, got a list",
  );
});

// Any value at any known or unknown key: validation never throws, and every message follows the style.
const keyArb = fc.oneof(
  fc.constantFrom(...CONFIG_SCHEMA.map((s) => s.key)),
  fc.constantFrom("tail", "exporter", "exporter.retry", "k8s", "nope", "tail.nope"),
);
const valueArb = fc.oneof(
  fc.anything({ maxDepth: 2 }),
  fc.constantFrom(
    "1s",
    "0",
    "16KiB",
    "${env:X}",
    "${env:",
    "$${",
    "http://a:1",
    "[::1]:1",
    "body",
    "label:a",
  ),
  fc.array(fc.constantFrom("body", "env:X", "/a/*.log", "${env:Y}", "ns-*", "label:", "/re/"), {
    maxLength: 4,
  }),
);

Deno.test("validateConfig is total and its messages start with a capital and end without a period", () => {
  let problemCount = 0;
  assertProperty(
    fc.property(fc.array(fc.tuple(keyArb, valueArb), { maxLength: 6 }), fc.boolean(), (entries, hasX) => {
      const raw: Record<string, unknown> = {};
      for (const [key, value] of entries) setPath(raw, key, value);
      const result = validateConfig(raw, { env: envOf(hasX ? { X: "1s" } : {}) });
      if (result.ok) return assert.ok(isDeeplyFrozen(result.value));
      problemCount += result.errors.length;
      for (const { path, message } of result.errors) {
        assert.equal(typeof path, "string");
        assert.match(message, /^[A-Z]/, message);
        assert.doesNotMatch(message, /\.$/, message);
      }
    }),
    1_000,
  );
  assert.ok(problemCount > 100, `the generator produced too few problems: ${problemCount}`);
});

Deno.test("validateConfig accepts any combination of in-range settings", () => {
  const settings = fc.record({
    rescan: fc.integer({ min: 100, max: 300_000 }),
    open: fc.integer({ min: 1, max: 1_000 }),
    tracked: fc.integer({ min: 1_024, max: 1_000_000 }),
    maxLogKiB: fc.integer({ min: 1, max: 1_024 }),
    level: fc.constantFrom("debug", "info", "warn", "error"),
  }, { requiredKeys: [] });
  assertProperty(
    fc.property(settings, (s) => {
      const raw = {
        tail: {
          rescan_interval: s.rescan === undefined ? undefined : `${s.rescan}ms`,
          max_open_files: s.open,
          max_tracked_files: s.tracked,
        },
        max_log_size: s.maxLogKiB === undefined ? undefined : `${s.maxLogKiB}KiB`,
        telemetry: { log_level: s.level },
      };
      const config = mustValidate(raw);
      assert.equal(config.tail.rescanIntervalMs, s.rescan ?? 1_000);
      assert.equal(config.tail.maxOpenFiles, s.open ?? 1_024);
      assert.equal(config.maxLogSizeBytes, (s.maxLogKiB ?? 1_024) * 1_024);
      assert.equal(config.telemetry.logLevel, s.level ?? "info");
    }),
  );
});

function setPath(root: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split(".");
  let node = root;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]] = value;
}
