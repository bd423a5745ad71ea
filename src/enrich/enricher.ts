/**
 * Gives each container one shared resource object (so the OTLP serializer groups its records) and adds
 * per-record rank and job attribution. Metadata never blocks a record: until the pod informer knows the
 * pod, the resource holds path metadata only; once it does (or when the pod's kept metadata changes), a
 * new resource object replaces the old one.
 *
 * @module
 */

import type { PodInfo, PodStore } from "../k8s/mod.ts";
import type { Attributes, PodLogPath, ResourceRef } from "../record.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import type { Series } from "../telemetry/metrics.ts";
import { pathResourceAttributes } from "./path_metadata.ts";
import { KeyFilter, podResourceAttributes } from "./pod_metadata.ts";
import type { ContainerAttribution, RankResolver } from "./rank.ts";

/** Options for {@linkcode Enricher}. */
export interface EnricherOptions {
  /** `k8s.node.name`; empty to omit. */
  nodeName: string;
  /** The pod informer's cache; null for path metadata only (k8s.mode off). @default null */
  store?: PodStore | null;
  /** Labels copied to the resource. @default none */
  labels?: KeyFilter;
  /** Annotations copied to the resource. @default none */
  annotations?: KeyFilter;
  /** Rank and job id attribution; null adds none. @default null */
  rank?: RankResolver | null;
  /** Counts records that left without pod metadata (only when a store is given). @default null */
  metrics?: Pick<AgentMetrics, "recordsWithoutPodMetadata"> | null;
  /** Most containers cached; the oldest entry is dropped beyond it (and rebuilt if used again). @default 16384 */
  maxContainers?: number;
}

interface ContainerEntry {
  readonly key: string;
  /** The pod the resource was built from (null: path metadata only). */
  pod: PodInfo | null;
  /** The store version `pod` was looked up at. */
  storeVersion: number;
  resource: ResourceRef;
  attribution: ContainerAttribution | null;
  openFiles: number;
  isRemoved: boolean;
}

/** Resolves the resource of a container and the per-record attribution. */
export class Enricher {
  #nodeName: string;
  #store: PodStore | null;
  #labels: KeyFilter;
  #annotations: KeyFilter;
  #rank: RankResolver | null;
  #withoutPod: Series | null;
  #maxContainers: number;
  #entries = new Map<string, ContainerEntry>();
  #byPath = new WeakMap<PodLogPath, ContainerEntry>();

  constructor(options: EnricherOptions) {
    this.#nodeName = options.nodeName;
    this.#store = options.store ?? null;
    this.#labels = options.labels ?? KeyFilter.none();
    this.#annotations = options.annotations ?? KeyFilter.none();
    this.#rank = options.rank ?? null;
    this.#withoutPod = this.#store === null
      ? null
      : options.metrics?.recordsWithoutPodMetadata.labels() ?? null;
    this.#maxContainers = options.maxContainers ?? 16_384;
  }

  /** The shared resource object for the container of `path` (same object while metadata is unchanged). */
  resourceFor(path: PodLogPath): ResourceRef {
    const entry = this.#entry(path);
    // Looked up on every chunk (not only when the store changed) so active pods stay recent in the LRU.
    if (this.#store !== null) this.#refresh(entry, path, this.#store.forPath(path));
    return entry.resource;
  }

  /** Adds per-record attribution (rank, job) to `attributes`. */
  attribute(path: PodLogPath, body: Uint8Array | string, attributes: Attributes): void {
    const entry = this.#entry(path);
    const store = this.#store;
    if (store !== null) {
      if (entry.storeVersion !== store.version) this.#refresh(entry, path, store.forPath(path));
      if (entry.pod === null && this.#withoutPod !== null) this.#withoutPod.value++;
    }
    if (entry.attribution !== null) this.#rank!.apply(entry.attribution, body, attributes);
  }

  /** Tells the enricher a file of this container was opened. */
  fileOpened(path: PodLogPath): void {
    this.#store?.fileOpened(path);
    this.#entry(path).openFiles++;
  }

  /** Tells the enricher a file of this container was drained and closed. */
  fileClosed(path: PodLogPath): void {
    this.#store?.fileClosed(path);
    const entry = this.#entries.get(entryKey(path));
    if (entry === undefined || --entry.openFiles > 0) return;
    this.#remove(entry);
  }

  #entry(path: PodLogPath): ContainerEntry {
    let entry = this.#byPath.get(path);
    if (entry !== undefined && !entry.isRemoved) return entry;
    const key = entryKey(path);
    entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = this.#create(path, key);
      this.#entries.set(key, entry);
      if (this.#entries.size > this.#maxContainers) this.#remove(this.#entries.values().next().value!);
    }
    this.#byPath.set(path, entry);
    return entry;
  }

  #create(path: PodLogPath, key: string): ContainerEntry {
    const pod = this.#store?.forPath(path) ?? null;
    return {
      key,
      pod,
      storeVersion: this.#store?.version ?? 0,
      resource: { attributes: this.#resourceAttributes(path, pod) },
      attribution: this.#rank?.forContainer(pod, path.containerName) ?? null,
      openFiles: 0,
      isRemoved: false,
    };
  }

  #refresh(entry: ContainerEntry, path: PodLogPath, found: PodInfo | undefined): void {
    entry.storeVersion = this.#store!.version;
    const pod = found ?? null;
    if (pod === entry.pod) return;
    entry.pod = pod;
    entry.resource = { attributes: this.#resourceAttributes(path, pod) };
    entry.attribution = this.#rank?.forContainer(pod, path.containerName) ?? null;
  }

  #resourceAttributes(path: PodLogPath, pod: PodInfo | null): Attributes {
    if (pod === null) return pathResourceAttributes(path, { nodeName: this.#nodeName });
    return podResourceAttributes(path, pod, {
      nodeName: this.#nodeName,
      labels: this.#labels,
      annotations: this.#annotations,
    });
  }

  #remove(entry: ContainerEntry): void {
    entry.isRemoved = true;
    this.#entries.delete(entry.key);
  }
}

function entryKey(path: PodLogPath): string {
  return `${path.containerKey}/${path.restartCount}`;
}
