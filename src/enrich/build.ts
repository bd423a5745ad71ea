/**
 * Builds the enrichment stage from config: the enricher the tailer calls, and (when the API server is
 * reachable by some mode) the pod informer component that feeds it. Everything that can be wrong in
 * config is decided here, at startup.
 *
 * @module
 */

import type { Config } from "../config/mod.ts";
import { compileNamePattern } from "../discovery/mod.ts";
import { loadRe2Engine, patternNeedsRe2, Re2CompileError, Re2Fields } from "../extract/mod.ts";
import {
  ApiServerClient,
  createHttpClient,
  type Disruption,
  EventInformer,
  PodInformer,
  PodStore,
  type PodTrimOptions,
  resolveConnection,
} from "../k8s/mod.ts";
import type { Component } from "../lifecycle/component.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import type { KindTracker } from "../telemetry/kinds.ts";
import type { Logger } from "../telemetry/log.ts";
import { Enricher } from "./enricher.ts";
import { KeyFilter } from "./pod_metadata.ts";
import { type AttributionSource, parseAttributionSources, RankResolver, sourceKeys } from "./rank.ts";

/** The enrichment stage: the enricher, and the informer component when pod metadata is on. */
export interface Enrichment {
  enricher: Enricher;
  informer: Component | null;
  /** The Event watch (`events.enabled` and pod metadata on), started after the informer. */
  eventInformer: Component | null;
}

/** Options for {@linkcode buildEnrichment}. */
export interface BuildEnrichmentOptions {
  config: Config;
  metrics: AgentMetrics;
  kinds: KindTracker;
  logger: Logger;
  /** Reads KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT for in-cluster mode. */
  env: (name: string) => string | undefined;
  /**
   * Receives evictions, preemptions and OOM kills seen by the pod informer (and, with `events.enabled`,
   * the Event watch). @default none (nothing is detected)
   */
  onDisruption?: (disruption: Disruption) => void;
}

/** An enrichment setting that config validation let through but cannot be used. */
export class EnrichmentConfigError extends Error {
  override name = "EnrichmentConfigError";
  /** The config key path at fault. */
  readonly path: string;

  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

/** A problem `--check-config` reports beyond schema validation. */
export interface EnrichmentProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * Checks what only this stage can check, without connecting anywhere: that the body rank pattern
 * compiles with RE2 and has its group, and that attribution sources and label/annotation key filters
 * are usable. `--check-config` reports these with the schema problems.
 */
export function checkEnrichmentConfig(config: Config, metrics: AgentMetrics): EnrichmentProblem[] {
  const problems: EnrichmentProblem[] = [];
  const attempt = (fallbackPath: string, run: () => unknown): void => {
    try {
      run();
    } catch (err) {
      if (err instanceof EnrichmentConfigError) problems.push({ path: err.path, message: err.message });
      else if (err instanceof Re2CompileError) problems.push({ path: fallbackPath, message: err.message });
      else throw err;
    }
  };
  attempt("attribution.process_rank_regex", () => attribution(config, metrics));
  attempt("k8s.pod_labels", () => keyFilter(config.k8s.podLabels, "k8s.pod_labels"));
  attempt("k8s.pod_annotations", () => keyFilter(config.k8s.podAnnotations, "k8s.pod_annotations"));
  return problems;
}

/**
 * Builds the enricher and, unless `k8s.mode` resolves to off, the pod informer (not started).
 * @throws {Re2CompileError} when `attribution.process_rank_regex` is unusable
 * @throws {K8sConnectionError} when the chosen mode lacks its token, CA bundle, host or kubeconfig
 * @throws {EnrichmentConfigError} on a bad source entry or key regex, or no node name with the informer on
 */
export async function buildEnrichment(options: BuildEnrichmentOptions): Promise<Enrichment> {
  const { config, logger } = options;
  // re2-wasm is loaded only when the rank pattern is outside the JS subset (it costs ~21 MiB of RSS).
  if (patternNeedsRe2(config.attribution.processRankRegex)) await loadRe2Engine();
  const { rank, sourcesRead } = attribution(config, options.metrics);
  const labels = keyFilter(config.k8s.podLabels, "k8s.pod_labels");
  const annotations = keyFilter(config.k8s.podAnnotations, "k8s.pod_annotations");
  const nodeName = config.nodeName;
  const connection = await resolveConnection({
    mode: config.k8s.mode,
    kubeconfigPath: config.k8s.kubeconfig,
    apiServer: config.k8s.apiServer,
    tokenPath: config.k8s.tokenPath,
    caPath: config.k8s.caPath,
    tokenRefreshIntervalMs: config.k8s.tokenRefreshIntervalMs,
    env: options.env,
  });
  if (connection === null) {
    logger.info("Pod metadata from the API server is off; records carry path metadata", {
      mode: config.k8s.mode,
    });
    const enricher = new Enricher({ nodeName, labels, annotations, rank });
    return { enricher, informer: null, eventInformer: null };
  }
  if (nodeName === "") {
    throw new EnrichmentConfigError(
      "node_name",
      "Cannot watch this node's pods: node_name is empty (set it or K8S_NODE_NAME)",
    );
  }
  if (connection.insecureSkipTlsVerify) {
    logger.warn("Kubeconfig sets insecure-skip-tls-verify; fetch still verifies TLS", {
      hint: "start deno with --unsafely-ignore-certificate-errors=<host> for a local test cluster",
    });
  }
  logger.info("Pod metadata from the API server", { mode: connection.mode, apiServer: connection.baseUrl });
  const store = new PodStore({
    maxPods: config.k8s.maxPods,
    deletedPodGraceMs: config.k8s.deletedPodGraceMs,
    metrics: options.metrics,
    kinds: options.kinds,
  });
  const client = new ApiServerClient({
    baseUrl: connection.baseUrl,
    token: connection.token,
    httpClient: createHttpClient(connection),
    idleTimeoutMs: config.k8s.watchIdleTimeoutMs,
  });
  const informer = new PodInformer({
    client,
    store,
    nodeName,
    acceptNamespace: namespaceFilter(config.namespaces),
    trim: trimFor(sourcesRead, labels, annotations),
    watchTimeoutSeconds: config.k8s.watchTimeoutSeconds,
    metrics: options.metrics,
    kinds: options.kinds,
    logger,
    onDisruption: options.onDisruption,
  });
  const onDisruption = options.onDisruption;
  const eventInformer = config.events.enabled && onDisruption !== undefined
    ? new EventInformer({
      client,
      nodeName,
      isLocalPod: (uid) => store.has(uid),
      isReady: () => informer.isSynced(),
      onDisruption,
      watchTimeoutSeconds: config.k8s.watchTimeoutSeconds,
      metrics: options.metrics,
      logger,
    })
    : null;
  const enricher = new Enricher({ nodeName, store, labels, annotations, rank, metrics: options.metrics });
  return { enricher, informer, eventInformer };
}

/** The rank resolver from the attribution options (compiling the body pattern when `body` is a source). */
function attribution(
  config: Config,
  metrics: AgentMetrics,
): { rank: RankResolver; sourcesRead: AttributionSource[] } {
  const rankSources = sources(config.attribution.rankSource, true, "attribution.rank_source");
  const jobIdSources = sources(config.attribution.jobIdSource, false, "attribution.job_id_source");
  const bodyRank = rankSources.some((s) => s.kind === "body")
    ? Re2Fields.compile(config.attribution.processRankRegex, {
      maxInputBytes: config.attribution.maxRegexInputBytes,
      requiredGroups: ["rank"],
      metrics,
    })
    : null;
  const rank = new RankResolver({ rankSources, jobIdSources, bodyRank, metrics });
  return { rank, sourcesRead: [...rankSources, ...jobIdSources] };
}

function sources(entries: readonly string[], allowBody: boolean, option: string): AttributionSource[] {
  const result = parseAttributionSources(entries, { allowBody });
  if (result.ok) return result.value;
  throw new EnrichmentConfigError(
    option,
    `Invalid ${option} entry ${JSON.stringify(result.entry)}: ${result.reason}`,
  );
}

function keyFilter(entries: readonly string[], option: string): KeyFilter {
  const result = KeyFilter.compile(entries);
  if (result.ok) return result.value;
  throw new EnrichmentConfigError(
    option,
    `Invalid ${option} entry ${JSON.stringify(result.entry)}: ${result.reason}: ${result.detail}`,
  );
}

/** Keeps what resource attributes and attribution read, and drops the rest of each pod. */
function trimFor(
  all: readonly AttributionSource[],
  labels: KeyFilter,
  annotations: KeyFilter,
): PodTrimOptions {
  const keys = sourceKeys(all);
  return {
    keepLabel: (key) => key === "pod-template-hash" || keys.labels.has(key) || labels.matches(key),
    keepAnnotation: (key) => keys.annotations.has(key) || annotations.matches(key),
    keepEnv: (name) => keys.env.has(name),
  };
}

function namespaceFilter(namespaces: Config["namespaces"]): (namespace: string) => boolean {
  const include = namespaces.include.map(compileNamePattern);
  const exclude = namespaces.exclude.map(compileNamePattern);
  return (namespace) =>
    !exclude.some((re) => re.test(namespace)) &&
    (include.length === 0 || include.some((re) => re.test(namespace)));
}
