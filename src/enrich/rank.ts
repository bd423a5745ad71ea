/**
 * Training rank and job id attribution. Sources are tried in the configured order and the first hit
 * wins. Pod-level sources (labels, annotations, the container's env, the Indexed Job completion index)
 * are resolved once per pod version and container; `body` is matched per record with the RE2 pattern,
 * because when several local ranks share one container (torchrun) only the line prefix tells them
 * apart. A rank is never guessed: no hit, no attribute.
 *
 * @module
 */

import type { Re2Fields } from "../extract/mod.ts";
import type { PodInfo } from "../k8s/mod.ts";
import { type Attributes, JOB_ID_ATTRIBUTE, RANK_ATTRIBUTE, RANK_SOURCE_ATTRIBUTE } from "../record.ts";
import type { Series } from "../telemetry/metrics.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";

/** Kinds of attribution source; also the `source` label of `containerstdout_rank_attributed_total`. */
export type AttributionSourceKind = "label" | "annotation" | "env" | "completion_index" | "body";

/** One parsed entry of `attribution.rank_source` / `attribution.job_id_source`. */
export interface AttributionSource {
  /** The entry as configured, e.g. `env:RANK`; reported as `gen_ai.training.rank.source`. */
  readonly text: string;
  readonly kind: AttributionSourceKind;
  /** Label/annotation key or env var name; empty for `completion_index` and `body`. */
  readonly key: string;
}

/** Why a source entry was rejected. */
export type AttributionSourceFailure = "unknown_source" | "missing_key" | "body_not_allowed";

/** The result of {@linkcode parseAttributionSources}. */
export type AttributionSourcesResult =
  | { ok: true; value: AttributionSource[] }
  | { ok: false; reason: AttributionSourceFailure; entry: string };

// The record attribute names live in record.ts: the extract and signals stages read them too.
export { JOB_ID_ATTRIBUTE, RANK_ATTRIBUTE, RANK_SOURCE_ATTRIBUTE };

/** The Indexed Job completion index (annotation; also a label since Kubernetes 1.28). */
const COMPLETION_INDEX_KEY = "batch.kubernetes.io/job-completion-index";
const RANK_TEXT_RE = /^\d{1,9}$/;

/**
 * Parses source entries: `label:<key>`, `annotation:<key>`, `env:<NAME>`, `completion_index`, and
 * `body` when `allowBody`.
 *
 * @example
 * ```ts
 * parseAttributionSources(["body", "env:RANK"], { allowBody: true });
 * // { ok: true, value: [{ text: "body", kind: "body", key: "" }, { text: "env:RANK", kind: "env", key: "RANK" }] }
 * ```
 */
export function parseAttributionSources(
  entries: readonly string[],
  options: { allowBody: boolean },
): AttributionSourcesResult {
  const sources: AttributionSource[] = [];
  for (const entry of entries) {
    if (entry === "body" || entry === "completion_index") {
      if (entry === "body" && !options.allowBody) return { ok: false, reason: "body_not_allowed", entry };
      sources.push({ text: entry, kind: entry, key: "" });
      continue;
    }
    const colon = entry.indexOf(":");
    const kind = entry.slice(0, colon);
    const key = entry.slice(colon + 1);
    if (colon <= 0 || (kind !== "label" && kind !== "annotation" && kind !== "env")) {
      return { ok: false, reason: "unknown_source", entry };
    }
    if (key === "") return { ok: false, reason: "missing_key", entry };
    sources.push({ text: entry, kind, key });
  }
  return { ok: true, value: sources };
}

/** A decimal rank (0..999999999), or null for anything else. */
export function parseRank(text: string | undefined): number | null {
  return text !== undefined && RANK_TEXT_RE.test(text) ? Number(text) : null;
}

/** Labels, annotations and env vars the sources read (what the pod cache must keep). */
export interface SourceKeys {
  labels: Set<string>;
  annotations: Set<string>;
  env: Set<string>;
}

/** The keys `sources` read, so the pod cache can drop the rest. */
export function sourceKeys(sources: readonly AttributionSource[]): SourceKeys {
  const keys: SourceKeys = { labels: new Set(), annotations: new Set(), env: new Set() };
  for (const s of sources) {
    if (s.kind === "label") keys.labels.add(s.key);
    else if (s.kind === "annotation") keys.annotations.add(s.key);
    else if (s.kind === "env") keys.env.add(s.key);
    else if (s.kind === "completion_index") {
      keys.labels.add(COMPLETION_INDEX_KEY);
      keys.annotations.add(COMPLETION_INDEX_KEY);
    }
  }
  return keys;
}

/** What one container's records get, resolved once per pod version; built by {@linkcode RankResolver}. */
export interface ContainerAttribution {
  readonly jobId: string | null;
  /** The pod-level rank, or -1. */
  readonly rank: number;
  readonly rankSource: string;
  readonly rankCounter: Series | null;
  /** Whether `body` comes before the pod-level hit (or there is none), so each record is matched. */
  readonly tryBody: boolean;
}

/** Options for {@linkcode RankResolver}. */
export interface RankResolverOptions {
  rankSources: readonly AttributionSource[];
  jobIdSources: readonly AttributionSource[];
  /** The compiled `process_rank_regex`; required when `rankSources` has `body`. */
  bodyRank: Re2Fields | null;
  metrics: Pick<AgentMetrics, "rankAttributed">;
}

/** Resolves pod-level attribution per container and applies it, with `body`, per record. */
export class RankResolver {
  #rankSources: readonly AttributionSource[];
  #jobIdSources: readonly AttributionSource[];
  #bodyIndex: number;
  #bodyRank: Re2Fields | null;
  #counters = new Map<AttributionSourceKind, Series>();
  #bodyCounter: Series;

  /** @throws {Error} when `rankSources` has `body` but no `bodyRank` is given (a wiring bug) */
  constructor(options: RankResolverOptions) {
    this.#rankSources = options.rankSources;
    this.#jobIdSources = options.jobIdSources.filter((s) => s.kind !== "body");
    this.#bodyIndex = options.rankSources.findIndex((s) => s.kind === "body");
    if (this.#bodyIndex !== -1 && options.bodyRank === null) {
      throw new Error("Rank source body needs bodyRank");
    }
    this.#bodyRank = options.bodyRank;
    for (const kind of ["label", "annotation", "env", "completion_index", "body"] as const) {
      this.#counters.set(kind, options.metrics.rankAttributed.labels(kind));
    }
    this.#bodyCounter = this.#counters.get("body")!;
  }

  /** Pod-level attribution of one container; `pod` null when the pod is not (yet) known. */
  forContainer(pod: PodInfo | null, containerName: string): ContainerAttribution {
    let jobId: string | null = null;
    for (const source of this.#jobIdSources) {
      const value = pod === null ? undefined : lookup(source, pod, containerName);
      if (value !== undefined && value !== "") {
        jobId = value;
        break;
      }
    }
    for (let i = 0; i < this.#rankSources.length; i++) {
      const source = this.#rankSources[i];
      if (source.kind === "body" || pod === null) continue;
      const rank = parseRank(lookup(source, pod, containerName));
      if (rank === null) continue;
      const counter = this.#counters.get(source.kind)!;
      return {
        jobId,
        rank,
        rankSource: source.text,
        rankCounter: counter,
        tryBody: this.#bodyIndex !== -1 && this.#bodyIndex < i,
      };
    }
    return { jobId, rank: -1, rankSource: "", rankCounter: null, tryBody: this.#bodyIndex !== -1 };
  }

  #matchBody(body: Uint8Array | string): Readonly<Record<string, string>> | null | undefined {
    const fields = this.#bodyRank!;
    if (typeof body === "string") return fields.exec(body);
    if (!fields.mayMatchBytes(body)) return null;
    return fields.exec(bodyDecoder.decode(body));
  }

  /** Adds job id and rank attributes to one record. */
  apply(attribution: ContainerAttribution, body: Uint8Array | string, attributes: Attributes): void {
    if (attribution.jobId !== null) attributes[JOB_ID_ATTRIBUTE] = attribution.jobId;
    if (attribution.tryBody) {
      const rank = parseRank(this.#matchBody(body)?.rank);
      if (rank !== null) {
        attributes[RANK_ATTRIBUTE] = rank;
        attributes[RANK_SOURCE_ATTRIBUTE] = "body";
        this.#bodyCounter.value++;
        return;
      }
    }
    if (attribution.rank !== -1) {
      attributes[RANK_ATTRIBUTE] = attribution.rank;
      attributes[RANK_SOURCE_ATTRIBUTE] = attribution.rankSource;
      attribution.rankCounter!.value++;
    }
  }
}

const bodyDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

function lookup(source: AttributionSource, pod: PodInfo, containerName: string): string | undefined {
  switch (source.kind) {
    case "label":
      return own(pod.labels, source.key);
    case "annotation":
      return own(pod.annotations, source.key);
    case "env": {
      const container = own(pod.containers, containerName);
      return container === undefined ? undefined : own(container.env, source.key);
    }
    case "completion_index":
      return own(pod.annotations, COMPLETION_INDEX_KEY) ?? own(pod.labels, COMPLETION_INDEX_KEY);
    case "body":
      return undefined;
  }
}

function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
