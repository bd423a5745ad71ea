/**
 * Gives each container one shared resource object (so the OTLP serializer groups its records) and adds
 * per-record attribution. This version knows the path metadata only.
 *
 * @module
 */

import type { Attributes, PodLogPath, ResourceRef } from "../record.ts";
import { pathResourceAttributes } from "./path_metadata.ts";

/** Options for {@linkcode Enricher}. */
export interface EnricherOptions {
  /** `k8s.node.name`; empty to omit. */
  nodeName: string;
}

/** Resolves the resource of a container and the per-record attribution. */
export class Enricher {
  #nodeName: string;
  #resources = new Map<string, ResourceRef>();

  constructor(options: EnricherOptions) {
    this.#nodeName = options.nodeName;
  }

  /** The shared resource object for the container of `path` (same object while metadata is unchanged). */
  resourceFor(path: PodLogPath): ResourceRef {
    const key = `${path.containerKey}/${path.restartCount}`;
    let resource = this.#resources.get(key);
    if (resource === undefined) {
      resource = { attributes: pathResourceAttributes(path, { nodeName: this.#nodeName }) };
      this.#resources.set(key, resource);
    }
    return resource;
  }

  /** Adds per-record attribution (rank, job) to `attributes`. */
  attribute(_path: PodLogPath, _body: string, _attributes: Attributes): void {}

  /** Tells the enricher a file of this container was opened. */
  fileOpened(_path: PodLogPath): void {}

  /** Tells the enricher a file of this container was drained and closed. */
  fileClosed(path: PodLogPath): void {
    this.#resources.delete(`${path.containerKey}/${path.restartCount}`);
  }
}
