/**
 * Per-container line and byte rates: the input a user needs to find the rank that went quiet or the
 * one that floods. Records are counted on the hot path (one identity check and two adds per record);
 * rates are computed over windows of at least `windowMs` when someone reads them (a /metrics scrape,
 * the OTLP metrics export). Containers idle for `idleWindows` windows are forgotten, freeing their
 * slot under the series ceiling. Pure: time is a parameter.
 *
 * @module
 */

import type { RecordOrigin, RecordSink, RecordStage } from "../record.ts";
import type { LogRecord, PodLogPath } from "../record.ts";
import { BoundedSeries } from "./bounded_series.ts";

/** The rates of one container over the last window. */
export interface ContainerRate {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly linesPerSecond: number;
  readonly bytesPerSecond: number;
}

interface ContainerCounts {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  lines: number;
  bytes: number;
  idleWindows: number;
  linesPerSecond: number;
  bytesPerSecond: number;
}

/** Options for {@linkcode ContainerRates}. */
export interface ContainerRatesOptions {
  /** Most containers with their own series; later ones share `other`. */
  maxSeries: number;
  /** Shortest window a rate is computed over. @default 10000 */
  windowMs?: number;
  /** Windows without a record after which a container is forgotten. @default 6 */
  idleWindows?: number;
  /** When counting starts (the clock of the caller). */
  startMs: number;
  /** Called per record folded into `other`. @default nothing */
  onOverflow?: () => void;
}

/** Line and byte counts per container, turned into rates per window. */
export class ContainerRates {
  #series: BoundedSeries<ContainerCounts>;
  #windowMs: number;
  #idleWindows: number;
  #windowStartMs: number;
  #lastPath: PodLogPath | null = null;
  #lastCounts: ContainerCounts | null = null;

  constructor(options: ContainerRatesOptions) {
    this.#windowMs = options.windowMs ?? 10_000;
    this.#idleWindows = options.idleWindows ?? 6;
    this.#windowStartMs = options.startMs;
    this.#series = new BoundedSeries<ContainerCounts>({
      maxSeries: options.maxSeries,
      onOverflow: options.onOverflow ?? (() => {}),
      create: (key, isOther) => {
        const [namespace, pod, container] = isOther ? ["other", "other", "other"] : key.split("\u0000");
        return {
          namespace,
          pod,
          container,
          lines: 0,
          bytes: 0,
          idleWindows: 0,
          linesPerSecond: 0,
          bytesPerSecond: 0,
        };
      },
    });
  }

  /** Counts one record of `sizeBytes` file bytes from the container of `podPath` (null: unknown). */
  count(podPath: PodLogPath | null, sizeBytes: number): void {
    let counts: ContainerCounts;
    // Records come in runs per file, and a file keeps one PodLogPath object: skip the map lookup.
    if (podPath !== null && podPath === this.#lastPath) counts = this.#lastCounts!;
    else {
      // Keyed by names, not pod UID: a pod recreated under its name continues its series.
      const key = podPath === null
        ? "\u0000\u0000"
        : `${podPath.namespace}\u0000${podPath.podName}\u0000${podPath.containerName}`;
      counts = this.#series.get(key);
      this.#lastPath = podPath;
      this.#lastCounts = counts;
    }
    counts.lines++;
    counts.bytes += sizeBytes;
  }

  /**
   * The rates of every known container. When at least `windowMs` passed since the last window closed,
   * a new window closes now (counts become rates, idle containers are forgotten); otherwise the last
   * window's rates are returned again.
   */
  snapshot(nowMs: number): ContainerRate[] {
    const elapsedMs = nowMs - this.#windowStartMs;
    if (elapsedMs >= this.#windowMs) this.#closeWindow(elapsedMs / 1000, nowMs);
    const out: ContainerRate[] = [];
    for (const [, c] of this.#series.entries()) {
      out.push({
        namespace: c.namespace,
        pod: c.pod,
        container: c.container,
        linesPerSecond: c.linesPerSecond,
        bytesPerSecond: c.bytesPerSecond,
      });
    }
    return out;
  }

  #closeWindow(elapsedS: number, nowMs: number): void {
    const idle: string[] = [];
    for (const [key, c, isOther] of this.#series.entries()) {
      c.linesPerSecond = c.lines / elapsedS;
      c.bytesPerSecond = c.bytes / elapsedS;
      c.idleWindows = c.lines === 0 ? c.idleWindows + 1 : 0;
      c.lines = 0;
      c.bytes = 0;
      if (!isOther && c.idleWindows >= this.#idleWindows) idle.push(key);
    }
    for (const key of idle) this.#series.delete(key);
    if (idle.length > 0) this.#lastPath = this.#lastCounts = null;
    this.#windowStartMs = nowMs;
  }
}

/** The record stage that counts each record for {@linkcode ContainerRates}. */
export class ContainerRatesStage implements RecordStage {
  #rates: ContainerRates;
  #next: RecordSink;

  constructor(options: { rates: ContainerRates; next: RecordSink }) {
    this.#rates = options.rates;
    this.#next = options.next;
  }

  push(record: LogRecord, origin: RecordOrigin): void {
    this.#rates.count(origin.podPath, origin.sizeBytes);
    this.#next.push(record, origin);
  }
}
