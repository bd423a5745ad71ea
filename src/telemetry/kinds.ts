/**
 * Degraded-state Kinds: every way the agent can be degraded has a stable name, a gauge, a reason, an
 * alert (chart/alerts) and a RUNBOOK section. The composite "degraded" is the OR of all Kinds.
 *
 * @module
 */

import type { Gauge, MetricsRegistry } from "./metrics.ts";

/** The closed list of degraded-state Kinds; names are stable (alerts and dashboards use them). */
export const KINDS = [
  "RotationStalled",
  "BackpressureDrop",
  "CursorWriteFailed",
  "Watch",
  "FingerprintCardinality",
  "AttributionCardinality",
  "RateLimitCardinality",
  "DescriptorStarvation",
] as const;

/** One degraded-state Kind. */
export type Kind = typeof KINDS[number];

/** The state of one Kind as shown in `/readyz` detail. */
export interface KindState {
  readonly kind: Kind;
  readonly isRaised: boolean;
  readonly reason: string;
  readonly sinceMs: number;
}

/** Options for {@linkcode KindTracker}. */
export interface KindTrackerOptions {
  registry: MetricsRegistry;
  /** Clock. @default Date.now */
  now?: () => number;
  /** Called when a Kind is raised or cleared (for a log line). */
  onChange?: (state: KindState) => void;
}

/** Holds which Kinds are raised, with reasons, and mirrors them into gauges. */
export class KindTracker {
  #states = new Map<Kind, KindState>();
  #gauge: Gauge;
  #composite: Gauge;
  #now: () => number;
  #onChange?: (state: KindState) => void;

  constructor(options: KindTrackerOptions) {
    this.#now = options.now ?? Date.now;
    this.#onChange = options.onChange;
    this.#gauge = options.registry.gauge(
      "containerstdout_degraded",
      "1 while the degraded-state Kind is raised, else 0",
      ["kind"],
    );
    this.#composite = options.registry.gauge(
      "containerstdout_degraded_any",
      "1 while any degraded-state Kind is raised (the OR of containerstdout_degraded)",
    );
    for (const kind of KINDS) {
      this.#states.set(kind, { kind, isRaised: false, reason: "", sinceMs: this.#now() });
      this.#gauge.set(0, kind);
    }
  }

  /** Raises `kind` with a human-readable reason (updates the reason if already raised). */
  raise(kind: Kind, reason: string): void {
    const prev = this.#states.get(kind)!;
    const state = { kind, isRaised: true, reason, sinceMs: prev.isRaised ? prev.sinceMs : this.#now() };
    this.#states.set(kind, state);
    this.#sync();
    if (!prev.isRaised || prev.reason !== reason) this.#onChange?.(state);
  }

  /** Clears `kind`; a no-op when it is not raised. */
  clear(kind: Kind): void {
    const prev = this.#states.get(kind)!;
    if (!prev.isRaised) return;
    const state = { kind, isRaised: false, reason: "", sinceMs: this.#now() };
    this.#states.set(kind, state);
    this.#sync();
    this.#onChange?.(state);
  }

  /** Whether `kind` is raised. */
  isRaised(kind: Kind): boolean {
    return this.#states.get(kind)!.isRaised;
  }

  /** True when any Kind is raised. */
  isDegraded(): boolean {
    for (const state of this.#states.values()) if (state.isRaised) return true;
    return false;
  }

  /** Every Kind's state, in the order of {@linkcode KINDS}. */
  states(): KindState[] {
    return KINDS.map((kind) => this.#states.get(kind)!);
  }

  #sync(): void {
    for (const [kind, state] of this.#states) this.#gauge.set(state.isRaised ? 1 : 0, kind);
    this.#composite.set(this.isDegraded() ? 1 : 0);
  }
}
