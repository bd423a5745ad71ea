/**
 * Dataloader timings from log bodies: RE2 patterns with named groups `data_time_s` and `iter_time_s`
 * turn `data_time: 0.012 iter_time: 0.340` (and the forms of common trainers, docs/training-signals.md)
 * into double attributes `training.dataloader.data_time_s` / `training.dataloader.iter_time_s`, and feed
 * the per (job, rank) summaries.
 *
 * Cost: a gate of literals every pattern needs (`_time` for the default set) is looked for in the
 * body's bytes first (copied to an aligned scratch buffer and read four bytes at a time), so a body
 * that cannot match costs one scan and never reaches an engine. Only candidates are decoded and matched; the default patterns run on a JS RegExp
 * twin that a property test checks against RE2 (same matches, linear time).
 *
 * @module
 */

import {
  type AttrValue,
  JOB_ID_ATTRIBUTE,
  type LogRecord,
  RANK_ATTRIBUTE,
  type RecordOrigin,
  type RecordSink,
  type RecordStage,
} from "../record.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import type { Series } from "../telemetry/metrics.ts";
import { ByteSearch } from "./_byte_search.ts";
import {
  DEFAULT_DATALOADER_GATE,
  DEFAULT_DATALOADER_PATTERNS,
  MAX_DATALOADER_PATTERN_LENGTH,
} from "../config/mod.ts";
import { patternNeedsRe2, Re2CompileError, Re2Fields } from "./re2_fields.ts";

export { DEFAULT_DATALOADER_PATTERNS };

/** The two groups a dataloader pattern may have (at least one). */
export const DATALOADER_GROUPS = ["data_time_s", "iter_time_s"] as const;

/** Record attribute names of the timings (double, seconds). */
export const DATA_TIME_ATTRIBUTE = "training.dataloader.data_time_s";
export const ITER_TIME_ATTRIBUTE = "training.dataloader.iter_time_s";

/** Longest dataloader pattern accepted (also checked by config validation). */
export const MAX_DATALOADER_PATTERN_CHARS = MAX_DATALOADER_PATTERN_LENGTH;

/** Timings found in one body, in seconds. */
export interface DataloaderTimings {
  dataTimeS: number | null;
  iterTimeS: number | null;
}

/** Options for {@linkcode DataloaderExtractor.compile}. */
export interface DataloaderExtractorOptions {
  /** RE2 patterns; each needs a `data_time_s` or `iter_time_s` group. @default DEFAULT_DATALOADER_PATTERNS */
  patterns?: readonly string[];
  /** Body prefix handed to a regex engine, in UTF-8 bytes. */
  maxInputBytes: number;
  metrics: Pick<AgentMetrics, "re2Calls" | "re2InputsCapped" | "re2Failures">;
}

/** Compiled dataloader patterns with their byte-level gate. */
export class DataloaderExtractor {
  /** The patterns, compiled once. */
  readonly fields: readonly Re2Fields[];
  /** Literals one of which every candidate contains, or null (every body is a candidate). */
  readonly gate: readonly string[] | null;
  #gateBytes: readonly Uint8Array[] | null;
  #search = new ByteSearch();
  #decoder = new TextDecoder();

  private constructor(fields: Re2Fields[], gate: string[] | null) {
    this.fields = fields;
    this.gate = gate;
    const encoder = new TextEncoder();
    this.#gateBytes = gate === null ? null : gate.map((g) => encoder.encode(g));
  }

  /**
   * Compiles the patterns once (at startup).
   * @throws {Re2CompileError} when a pattern is too long, does not compile, or has neither group
   * @example
   * ```ts
   * const dl = DataloaderExtractor.compile({ maxInputBytes: 4096, metrics });
   * dl.extract("time: 0.3400  data_time: 0.0120"); // { dataTimeS: 0.012, iterTimeS: 0.34 }
   * ```
   */
  static compile(options: DataloaderExtractorOptions): DataloaderExtractor {
    const patterns = options.patterns ?? DEFAULT_DATALOADER_PATTERNS;
    const isDefault = sameList(patterns, DEFAULT_DATALOADER_PATTERNS);
    const fields = patterns.map((pattern) => {
      const compiled = Re2Fields.compile(pattern, {
        maxInputBytes: options.maxInputBytes,
        maxPatternChars: MAX_DATALOADER_PATTERN_CHARS,
        metrics: options.metrics,
        jsEquivalent: isDefault ? jsTwin(pattern) : undefined,
      });
      if (!compiled.groupNames.some((g) => (DATALOADER_GROUPS as readonly string[]).includes(g))) {
        throw new Re2CompileError(
          "missing_group",
          pattern,
          "needs a named group data_time_s or iter_time_s, like (?P<data_time_s>\\d+(?:\\.\\d+)?)",
        );
      }
      return compiled;
    });
    return new DataloaderExtractor(fields, isDefault ? [DEFAULT_DATALOADER_GATE] : unionGate(fields));
  }

  /** Whether compiling `patterns` needs the RE2 engine loaded (the defaults have proven JS twins). */
  static needsRe2(patterns: readonly string[]): boolean {
    if (sameList(patterns, DEFAULT_DATALOADER_PATTERNS)) return false;
    return patterns.some((pattern) => patternNeedsRe2(pattern));
  }

  /** False when no pattern can match `body` (the gate literals are absent). */
  mayMatch(body: Uint8Array | string): boolean {
    const gate = this.gate;
    if (gate === null) return true;
    if (typeof body === "string") {
      for (let i = 0; i < gate.length; i++) if (body.includes(gate[i])) return true;
      return false;
    }
    const gateBytes = this.#gateBytes!;
    for (let i = 0; i < gateBytes.length; i++) if (this.#search.includes(body, gateBytes[i])) return true;
    return false;
  }

  /** The timings in `body`, or null when it carries none. */
  extract(body: Uint8Array | string): DataloaderTimings | null {
    if (!this.mayMatch(body)) return null;
    const text = typeof body === "string" ? body : this.#decoder.decode(body);
    let dataTimeS: number | null = null;
    let iterTimeS: number | null = null;
    for (const fields of this.fields) {
      const groups = fields.exec(text);
      if (groups === null) continue;
      if (dataTimeS === null && groups.data_time_s !== undefined) dataTimeS = Number(groups.data_time_s);
      if (iterTimeS === null && groups.iter_time_s !== undefined) iterTimeS = Number(groups.iter_time_s);
      if (dataTimeS !== null && iterTimeS !== null) break;
    }
    // An exponent can overflow to Infinity ("1e999"): not a time.
    if (dataTimeS !== null && !Number.isFinite(dataTimeS)) dataTimeS = null;
    if (iterTimeS !== null && !Number.isFinite(iterTimeS)) iterTimeS = null;
    return dataTimeS === null && iterTimeS === null ? null : { dataTimeS, iterTimeS };
  }
}

/** The JS twin of a default pattern: the same source with JS group syntax (checked by a property test). */
function jsTwin(pattern: string): RegExp {
  return new RegExp(pattern.replaceAll("(?P<", "(?<"), "u");
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Every pattern's pre-filter literals together; null when one pattern has none. */
function unionGate(fields: readonly Re2Fields[]): string[] | null {
  const literals: string[] = [];
  for (const f of fields) {
    if (f.prefilter === null) return null;
    literals.push(...f.prefilter.literals);
  }
  return [...new Set(literals)];
}

/** A timing as an AttrValue that the encoder sends as a double even when it is integral (record.ts). */
export function doubleAttr(seconds: number): AttrValue {
  return Number.isInteger(seconds) ? Float64Array.of(seconds) : seconds;
}

/** Where dataloader timings go besides the record: the per (job, rank) summaries. */
export interface TimingObserver {
  observe(job: string, rank: string, dataTimeS: number | null, iterTimeS: number | null): void;
}

/** Options for {@linkcode DataloaderStage}. */
export interface DataloaderStageOptions {
  extractor: DataloaderExtractor;
  /** Receives each timing with the record's job id and rank (empty when unknown). */
  observer: TimingObserver;
  next: RecordSink;
  metrics: Pick<AgentMetrics, "dataloaderMatches">;
}

/**
 * The record stage: adds the timing attributes and feeds the summaries. Runs before the JSON stage,
 * on the body text.
 */
export class DataloaderStage implements RecordStage {
  #extractor: DataloaderExtractor;
  #observer: TimingObserver;
  #next: RecordSink;
  #matches: Series;

  constructor(options: DataloaderStageOptions) {
    this.#extractor = options.extractor;
    this.#observer = options.observer;
    this.#next = options.next;
    this.#matches = options.metrics.dataloaderMatches.labels();
  }

  push(record: LogRecord, origin: RecordOrigin): void {
    const body = record.body;
    if (typeof body === "string" || body instanceof Uint8Array) {
      // extract() runs the gate first: a body without the gate literals costs one byte scan, not two.
      const timings = this.#extractor.extract(body);
      if (timings !== null) this.#apply(record, timings);
    }
    this.#next.push(record, origin);
  }

  #apply(record: LogRecord, timings: DataloaderTimings): void {
    const attributes = record.attributes;
    if (timings.dataTimeS !== null) attributes[DATA_TIME_ATTRIBUTE] = doubleAttr(timings.dataTimeS);
    if (timings.iterTimeS !== null) attributes[ITER_TIME_ATTRIBUTE] = doubleAttr(timings.iterTimeS);
    this.#matches.value++;
    const job = attributes[JOB_ID_ATTRIBUTE];
    const rank = attributes[RANK_ATTRIBUTE];
    this.#observer.observe(
      job === undefined ? "" : String(job),
      rank === undefined ? "" : String(rank),
      timings.dataTimeS,
      timings.iterTimeS,
    );
  }
}

/** A dataloader setting that schema validation let through but RE2 refuses (for `--check-config`). */
export interface DataloaderProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * Compiles each configured pattern once as the agent would, without keeping them: the problems
 * `--check-config` reports beyond the schema (syntax RE2 refuses, no usable group).
 */
export function checkDataloaderPatterns(
  patterns: readonly string[],
  options: Omit<DataloaderExtractorOptions, "patterns">,
): DataloaderProblem[] {
  const problems: DataloaderProblem[] = [];
  patterns.forEach((pattern, i) => {
    try {
      DataloaderExtractor.compile({ ...options, patterns: [pattern] });
    } catch (err) {
      if (!(err instanceof Re2CompileError)) throw err;
      problems.push({ path: `dataloader.patterns[${i}]`, message: err.message });
    }
  });
  return problems;
}
