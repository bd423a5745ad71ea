/**
 * The optional watch of core/v1 Events (`events.enabled`) that reports evictions, preemptions and OOM
 * kills as {@linkcode Disruption}s. Field selectors cannot select Events by node, so there is one
 * list+watch per reason, each selected server-side by `reason` (rare reasons only cross the wire):
 * pod Events (`Evicted`, `Preempted`, `Preempting`, `Killing`) are selected by kind and
 * reason, `OOMKilling` on this Node object; each is kept only when its pod is one of this node's (the
 * pod store knows it). Listing waits until the
 * pod informer has synced, so the first list finds the node's pods. A failing watch is retried with
 * backoff and counted; it raises no Kind (the pod informer's detections do not depend on it).
 *
 * @module
 */

import { reconnectDelayMs } from "./backoff.ts";
import type { Component, ComponentHealth } from "../lifecycle/component.ts";
import { abortableDelay } from "../lifecycle/abortable_delay.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import { type Logger, toError } from "../telemetry/log.ts";
import { type ApiServerClient, ApiServerError, type WatchEvent } from "./apiserver_client.ts";
import { detectEventDisruption, type Disruption, DISRUPTION_EVENT_REASONS } from "./pod_disruption.ts";

/** Options for {@linkcode EventInformer}. */
export interface EventInformerOptions {
  /** Shared with the pod informer (which closes it); not closed here. */
  client: ApiServerClient;
  nodeName: string;
  /** Whether a pod UID is one of this node's pods (tombstones included). */
  isLocalPod: (uid: string) => boolean;
  /** Whether listing may start (the pod informer has synced). @default always */
  isReady?: () => boolean;
  /** Receives each disruption an Event reports. */
  onDisruption: (disruption: Disruption) => void;
  /** The server ends each watch after this long; the informer then watches again. */
  watchTimeoutSeconds: number;
  metrics: Pick<AgentMetrics, "eventWatchEvents" | "eventWatchRestarts" | "eventsIgnored">;
  logger: Logger;
  /** First reconnect delay after a failure (with jitter, doubling). @default 250 */
  backoffInitialMs?: number;
  /** Longest reconnect delay. @default 30000 */
  backoffMaxMs?: number;
  /** Random source for the jitter, in [0, 1). @default Math.random */
  random?: () => number;
}

/** Lists and watches the Events that report disruptions of this node's pods. */
export class EventInformer implements Component {
  readonly name = "event_informer";
  #o: EventInformerOptions;
  #controller: AbortController | null = null;
  #loops: Promise<void>[] = [];
  #isStopped = false;
  #problems = new Map<string, string>();
  #random: () => number;

  constructor(options: EventInformerOptions) {
    this.#o = options;
    this.#random = options.random ?? Math.random;
  }

  /** The field selector of each watch, one per reason. */
  get fieldSelectors(): string[] {
    return DISRUPTION_EVENT_REASONS.map((reason) =>
      reason === "OOMKilling"
        ? `involvedObject.kind=Node,involvedObject.name=${this.#o.nodeName},reason=OOMKilling`
        : `involvedObject.kind=Pod,reason=${reason}`
    );
  }

  /** Starts one list+watch loop per reason in the background. */
  start(signal: AbortSignal): Promise<void> {
    if (this.#controller !== null || this.#isStopped) return Promise.resolve();
    const controller = new AbortController();
    this.#controller = controller;
    signal.addEventListener("abort", () => controller.abort(), { once: true, signal: controller.signal });
    this.#loops = this.fieldSelectors.map((selector) => this.#run(selector, controller.signal));
    return Promise.resolve();
  }

  /** Stops every loop. Idempotent. */
  async stop(): Promise<void> {
    if (this.#isStopped) return;
    this.#isStopped = true;
    this.#controller?.abort();
    await Promise.all(this.#loops);
  }

  health(): ComponentHealth {
    // Events only add detections: a failing Event watch is reported, but does not make the agent unready.
    if (this.#problems.size === 0) return { isHealthy: true, detail: "watching Events" };
    return { isHealthy: true, detail: [...this.#problems.values()].join("; ") };
  }

  async #run(selector: string, signal: AbortSignal): Promise<void> {
    const isReady = this.#o.isReady ?? (() => true);
    while (!isReady() && !signal.aborted) await abortableDelay(100, signal);
    let resourceVersion: string | null = null;
    let failures = 0;
    while (!signal.aborted) {
      try {
        // After a 410 the watch cache may be behind the expired version: list the latest state instead.
        if (resourceVersion === null) {
          resourceVersion = await this.#list(selector, failures > 0 ? "" : "0", signal);
        }
        const events = this.#o.client.watchEvents({
          fieldSelector: selector,
          resourceVersion,
          timeoutSeconds: this.#o.watchTimeoutSeconds,
          signal,
        });
        for await (const event of events) {
          failures = 0;
          this.#problems.delete(selector);
          if (event.resourceVersion !== null) resourceVersion = event.resourceVersion;
          this.#apply(event);
        }
      } catch (thrown) {
        if (signal.aborted) return;
        failures++;
        const reason = thrown instanceof ApiServerError ? thrown.reason : "internal_error";
        this.#o.metrics.eventWatchRestarts.inc(1, reason);
        if (reason === "gone") {
          resourceVersion = null;
          if (failures === 1) continue;
        }
        const message = toError(thrown).message;
        this.#problems.set(selector, `Event watch ${selector} failed: ${reason}: ${message}`);
        this.#o.logger.limited("warn", `event_informer_${reason}`, "Event watch failed", {
          selector,
          reason,
          error: message,
        });
        await abortableDelay(this.#backoffMs(failures), signal);
      }
    }
  }

  async #list(selector: string, resourceVersion: string, signal: AbortSignal): Promise<string> {
    const list = await this.#o.client.listEvents({ fieldSelector: selector, resourceVersion, signal });
    this.#problems.delete(selector);
    for (const item of list.items) this.#take(item);
    return list.resourceVersion;
  }

  #apply(event: WatchEvent): void {
    this.#o.metrics.eventWatchEvents.inc(1, event.type);
    // An Event object counts again (count, lastTimestamp) on MODIFIED; the join deduplicates.
    if (event.type === "ADDED" || event.type === "MODIFIED") this.#take(event.object);
  }

  #take(wire: unknown): void {
    const result = detectEventDisruption(wire);
    if (!result.ok) {
      this.#o.metrics.eventsIgnored.inc(1, result.reason);
      return;
    }
    const d = result.value;
    // Every Event must name one of this node's pods in an accepted namespace (OOMKilling's cgroup too).
    if (!this.#o.isLocalPod(d.podUid)) {
      this.#o.metrics.eventsIgnored.inc(1, "other_node");
      return;
    }
    this.#o.onDisruption(d);
  }

  #backoffMs(failures: number): number {
    return reconnectDelayMs(failures, {
      initialMs: this.#o.backoffInitialMs ?? 250,
      maxMs: this.#o.backoffMaxMs ?? 30_000,
      random: this.#random,
    });
  }
}
