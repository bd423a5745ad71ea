/**
 * The node-scoped pod informer: list this node's pods, then watch from the list's resourceVersion;
 * relist on 410 Gone (reconciling deletions missed meanwhile); reconnect with capped exponential
 * backoff and jitter after failures; an idle watch (no event or bookmark within the client's idle
 * timeout) is aborted and reconnected. While it is not synced or its watch is failing or silent, the
 * `Watch` Kind is raised.
 *
 * @module
 */

import { reconnectDelayMs } from "./backoff.ts";
import type { Component, ComponentHealth } from "../lifecycle/component.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import type { KindTracker } from "../telemetry/kinds.ts";
import { type Logger, toError } from "../telemetry/log.ts";
import { type ApiServerClient, ApiServerError, type WatchEvent } from "./apiserver_client.ts";
import { type PodInfo, type PodTrimOptions, toPodInfo } from "./pod_info.ts";
import { detectPodDisruptions, type Disruption } from "./pod_disruption.ts";
import type { PodStore } from "./pod_store.ts";
import { abortableDelay } from "../lifecycle/abortable_delay.ts";

/** Options for {@linkcode PodInformer}. */
export interface PodInformerOptions {
  /** Owned by the informer: closed by {@linkcode PodInformer.stop}. */
  client: ApiServerClient;
  store: PodStore;
  /** Only pods scheduled to this node are listed and watched. */
  nodeName: string;
  /** Whether pods of a namespace are kept (namespaces.include / exclude). @default every namespace */
  acceptNamespace?: (namespace: string) => boolean;
  /** What of each pod is kept. @default everything */
  trim?: PodTrimOptions;
  /** The server ends each watch after this long; the informer then watches again. */
  watchTimeoutSeconds: number;
  metrics: Pick<AgentMetrics, "watchEvents" | "watchRestarts">;
  /** Raises and clears `Watch`. */
  kinds: KindTracker;
  logger: Logger;
  /** First reconnect delay after a failure (with jitter, doubling). @default 250 */
  backoffInitialMs?: number;
  /** Longest reconnect delay. @default 30000 */
  backoffMaxMs?: number;
  /** How often deleted pods are checked for purging. @default 1000 */
  sweepIntervalMs?: number;
  /** Random source for the jitter, in [0, 1). @default Math.random */
  random?: () => number;
  /**
   * Receives every eviction, preemption and OOM kill a pod object shows (listed, added, modified or
   * deleted; repeated sightings repeat them). @default none
   */
  onDisruption?: (disruption: Disruption) => void;
}

/** Keeps the {@linkcode PodStore} in step with this node's pods. */
export class PodInformer implements Component {
  readonly name = "pod_informer";
  #client: ApiServerClient;
  #store: PodStore;
  #fieldSelector: string;
  #acceptNamespace: (namespace: string) => boolean;
  #trim: PodTrimOptions;
  #watchTimeoutSeconds: number;
  #metrics: PodInformerOptions["metrics"];
  #kinds: KindTracker;
  #logger: Logger;
  #backoffInitialMs: number;
  #backoffMaxMs: number;
  #sweepIntervalMs: number;
  #random: () => number;
  #onDisruption: ((disruption: Disruption) => void) | null;
  #controller: AbortController | null = null;
  #running: Promise<void> | null = null;
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #isStopped = false;
  #isSynced = false;
  #resourceVersion: string | null = null;
  #failures = 0;
  #problem: string | null = "not started";
  #needsEventToClear = false;
  #isRelistAfterGone = false;

  constructor(options: PodInformerOptions) {
    this.#client = options.client;
    this.#store = options.store;
    this.#fieldSelector = `spec.nodeName=${options.nodeName}`;
    this.#acceptNamespace = options.acceptNamespace ?? (() => true);
    this.#trim = options.trim ?? {};
    this.#watchTimeoutSeconds = options.watchTimeoutSeconds;
    this.#metrics = options.metrics;
    this.#kinds = options.kinds;
    this.#logger = options.logger;
    this.#backoffInitialMs = options.backoffInitialMs ?? 250;
    this.#backoffMaxMs = options.backoffMaxMs ?? 30_000;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 1_000;
    this.#random = options.random ?? Math.random;
    this.#onDisruption = options.onDisruption ?? null;
  }

  /** Starts listing and watching in the background; returns at once (before the first list). */
  start(signal: AbortSignal): Promise<void> {
    if (this.#running !== null || this.#isStopped) return Promise.resolve();
    const controller = new AbortController();
    this.#controller = controller;
    signal.addEventListener("abort", () => controller.abort(), { once: true, signal: controller.signal });
    this.#setProblem("Pod informer not synced yet: first list pending");
    this.#sweepTimer = setInterval(() => this.#store.sweep(), this.#sweepIntervalMs);
    this.#running = this.#run(controller.signal);
    return Promise.resolve();
  }

  /** Stops the loop, aborting any request in flight, and closes the client. Idempotent. */
  async stop(): Promise<void> {
    if (this.#isStopped) return;
    this.#isStopped = true;
    this.#controller?.abort();
    await this.#running;
    clearInterval(this.#sweepTimer);
    this.#client.close();
  }

  health(): ComponentHealth {
    if (this.#problem !== null) return { isHealthy: false, detail: this.#problem };
    return {
      isHealthy: true,
      detail: `synced: ${this.#store.size} pods cached, resourceVersion ${this.#resourceVersion}`,
    };
  }

  /** Whether a list has completed since start (stays true while the watch reconnects). */
  isSynced(): boolean {
    return this.#isSynced;
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        if (this.#resourceVersion === null) await this.#relist(signal);
        await this.#watch(this.#resourceVersion!, signal);
      } catch (thrown) {
        if (signal.aborted) return;
        await this.#recover(thrown, signal);
      }
    }
  }

  async #relist(signal: AbortSignal): Promise<void> {
    // After a 410 the watch cache may still be behind the expired version: read the latest state instead.
    const resourceVersion = this.#isRelistAfterGone ? "" : "0";
    const list = await this.#client.listPods({ fieldSelector: this.#fieldSelector, resourceVersion, signal });
    this.#isRelistAfterGone = false;
    const pods: PodInfo[] = [];
    const accepted: unknown[] = [];
    for (const item of list.items) {
      const pod = this.#accept(item);
      if (pod === null) continue;
      pods.push(pod);
      accepted.push(item);
    }
    this.#store.replaceAll(pods);
    // After the store knows the pods, so detections find their metadata.
    for (const item of accepted) this.#detect(item);
    this.#resourceVersion = list.resourceVersion;
    if (!this.#isSynced) {
      this.#logger.info("Pod informer synced", { pods: pods.length, rv: list.resourceVersion });
    }
    this.#isSynced = true;
    this.#needsEventToClear = false;
    this.#clearProblem();
  }

  async #watch(fromRv: string, signal: AbortSignal): Promise<void> {
    const events = this.#client.watchPods({
      fieldSelector: this.#fieldSelector,
      resourceVersion: fromRv,
      timeoutSeconds: this.#watchTimeoutSeconds,
      signal,
      onConnected: () => {
        if (!this.#needsEventToClear) this.#clearProblem();
      },
    });
    for await (const event of events) {
      this.#metrics.watchEvents.inc(1, event.type);
      this.#failures = 0;
      this.#needsEventToClear = false;
      this.#clearProblem();
      if (event.resourceVersion !== null) this.#resourceVersion = event.resourceVersion;
      this.#apply(event);
    }
    // The server ended the watch (timeoutSeconds): a healthy cycle; watch again from where we are.
    this.#failures = 0;
  }

  #apply(event: WatchEvent): void {
    if (event.type === "BOOKMARK") return;
    if (event.type === "DELETED") {
      // The last state of a deleted pod may be the first to show why it ended (a preempted pod is gone
      // quickly): look at it before the pod becomes a tombstone.
      const meta = (event.object as { metadata?: { uid?: unknown; namespace?: unknown } }).metadata;
      if (typeof meta?.namespace === "string" && this.#acceptNamespace(meta.namespace)) {
        this.#detect(event.object);
      }
      const uid = meta?.uid;
      if (typeof uid === "string") this.#store.markDeleted(uid);
      return;
    }
    const pod = this.#accept(event.object);
    if (pod === null) return;
    this.#store.upsert(pod);
    this.#detect(event.object);
  }

  #detect(wire: unknown): void {
    if (this.#onDisruption === null) return;
    for (const disruption of detectPodDisruptions(wire)) this.#onDisruption(disruption);
  }

  #accept(wire: unknown): PodInfo | null {
    const result = toPodInfo(wire, this.#trim);
    if (!result.ok) {
      this.#metrics.watchEvents.inc(1, `invalid_${result.reason}`);
      return null;
    }
    return this.#acceptNamespace(result.value.namespace) ? result.value : null;
  }

  async #recover(thrown: unknown, signal: AbortSignal): Promise<void> {
    const error = thrown instanceof ApiServerError ? thrown : null;
    const reason = error?.reason ?? "internal_error";
    const message = toError(thrown).message;
    this.#metrics.watchRestarts.inc(1, reason);
    this.#failures++;
    if (reason === "gone") {
      this.#resourceVersion = null;
      this.#isRelistAfterGone = true;
      // One 410 is routine (the watch cache moved on): relist at once. Repeated ones back off.
      if (this.#failures === 1) return;
    }
    const phase = this.#resourceVersion === null ? "Pod list failed" : "Pod watch failed";
    if (reason === "idle_timeout") this.#needsEventToClear = true;
    this.#setProblem(`${phase}: ${reason}: ${message}`);
    this.#logger.limited("warn", `pod_informer_${reason}`, phase, { reason, error: message });
    await abortableDelay(this.#backoffMs(), signal);
  }

  #backoffMs(): number {
    return reconnectDelayMs(this.#failures, {
      initialMs: this.#backoffInitialMs,
      maxMs: this.#backoffMaxMs,
      random: this.#random,
    });
  }

  #setProblem(problem: string): void {
    this.#problem = problem;
    this.#kinds.raise("Watch", problem);
  }

  #clearProblem(): void {
    if (this.#problem === null || !this.#isSynced) return;
    this.#problem = null;
    this.#kinds.clear("Watch");
  }
}
