/**
 * Resource attributes from the pod informer's metadata (OTel semantic conventions): selected labels and
 * annotations, the node, the controlling workload and the container image.
 *
 * @module
 */

import type { PodInfo } from "../k8s/mod.ts";
import type { Attributes, PodLogPath } from "../record.ts";
import { toError } from "../telemetry/log.ts";
import { pathResourceAttributes } from "./path_metadata.ts";

/** Why a key filter entry was rejected. */
export type KeyFilterFailure = "empty_entry" | "bad_regex";

/** The result of {@linkcode KeyFilter.compile}. */
export type KeyFilterResult =
  | { ok: true; value: KeyFilter }
  | { ok: false; reason: KeyFilterFailure; entry: string; detail: string };

/** Which label or annotation keys are copied: exact keys, or `/regex/` entries (compiled once). */
export class KeyFilter {
  #exact: ReadonlySet<string>;
  #patterns: readonly RegExp[];

  private constructor(exact: Set<string>, patterns: RegExp[]) {
    this.#exact = exact;
    this.#patterns = patterns;
  }

  /**
   * Compiles config entries such as `app.kubernetes.io/name` or `/^team\./`.
   *
   * @example
   * ```ts
   * const r = KeyFilter.compile(["app", "/^team\\./"]);
   * // r.ok && r.value.matches("team.owner") === true
   * ```
   */
  static compile(entries: readonly string[]): KeyFilterResult {
    const exact = new Set<string>();
    const patterns: RegExp[] = [];
    for (const entry of entries) {
      if (entry === "") return { ok: false, reason: "empty_entry", entry, detail: "empty key" };
      if (entry.length < 3 || !entry.startsWith("/") || !entry.endsWith("/")) {
        exact.add(entry);
        continue;
      }
      try {
        patterns.push(new RegExp(entry.slice(1, -1)));
      } catch (thrown) {
        return {
          ok: false,
          reason: "bad_regex",
          entry,
          detail: toError(thrown).message,
        };
      }
    }
    return { ok: true, value: new KeyFilter(exact, patterns) };
  }

  /** A filter that matches nothing. */
  static none(): KeyFilter {
    return new KeyFilter(new Set(), []);
  }

  /** True when no entry was given. */
  get isEmpty(): boolean {
    return this.#exact.size === 0 && this.#patterns.length === 0;
  }

  /** Whether `key` is selected. */
  matches(key: string): boolean {
    if (this.#exact.has(key)) return true;
    for (const pattern of this.#patterns) if (pattern.test(key)) return true;
    return false;
  }
}

/** Options for {@linkcode podResourceAttributes}. */
export interface PodResourceOptions {
  /** `k8s.node.name` when the pod does not name its node; empty to omit. */
  nodeName: string;
  /** Labels copied as `k8s.pod.label.<key>`. */
  labels: KeyFilter;
  /** Annotations copied as `k8s.pod.annotation.<key>`. */
  annotations: KeyFilter;
}

const TEMPLATE_HASH_LABEL = "pod-template-hash";
// Kubernetes' SafeEncodeString alphabet (no vowels, no 0/1/3), used for pod-template-hash values.
const TEMPLATE_HASH_SUFFIX_RE = /^(.+)-[bcdfghjklmnpqrstvwxz2456789]{1,10}$/;

/** Path attributes plus what the pod's metadata says, for the container of `path`. */
export function podResourceAttributes(
  path: PodLogPath,
  pod: PodInfo,
  options: PodResourceOptions,
): Attributes {
  const attributes = pathResourceAttributes(path, { nodeName: pod.nodeName || options.nodeName });
  if (path.isStaticPod) attributes["k8s.pod.uid"] = pod.uid;
  for (const [key, value] of Object.entries(pod.labels)) {
    if (options.labels.matches(key)) attributes[`k8s.pod.label.${key}`] = value;
  }
  for (const [key, value] of Object.entries(pod.annotations)) {
    if (options.annotations.matches(key)) attributes[`k8s.pod.annotation.${key}`] = value;
  }
  addOwner(attributes, pod);
  const container = Object.hasOwn(pod.containers, path.containerName)
    ? pod.containers[path.containerName]
    : null;
  if (container !== null && container.image !== "") {
    const image = parseImage(container.image);
    attributes["container.image.name"] = image.name;
    if (image.tag !== null) attributes["container.image.tag"] = image.tag;
  }
  return attributes;
}

function addOwner(attributes: Attributes, pod: PodInfo): void {
  const owner = pod.owner;
  if (owner === null) return;
  switch (owner.kind) {
    case "ReplicaSet": {
      attributes["k8s.replicaset.name"] = owner.name;
      const deployment = deploymentOf(owner.name, pod.labels[TEMPLATE_HASH_LABEL]);
      if (deployment !== null) attributes["k8s.deployment.name"] = deployment;
      return;
    }
    case "Job":
      attributes["k8s.job.name"] = owner.name;
      return;
    case "StatefulSet":
      attributes["k8s.statefulset.name"] = owner.name;
      return;
    case "DaemonSet":
      attributes["k8s.daemonset.name"] = owner.name;
      return;
  }
}

/**
 * The Deployment that owns a ReplicaSet: its name minus the `-<pod-template-hash>` suffix. Exact when the
 * pod carries the `pod-template-hash` label; otherwise only a suffix in the hash alphabet is removed.
 */
function deploymentOf(replicaSet: string, templateHash: string | undefined): string | null {
  if (templateHash !== undefined && templateHash !== "") {
    return replicaSet.endsWith(`-${templateHash}`) ? replicaSet.slice(0, -templateHash.length - 1) : null;
  }
  return TEMPLATE_HASH_SUFFIX_RE.exec(replicaSet)?.[1] ?? null;
}

/** Name and tag of an image reference; the tag is "latest" when neither tag nor digest is given. */
function parseImage(image: string): { name: string; tag: string | null } {
  const at = image.indexOf("@");
  const ref = at === -1 ? image : image.slice(0, at);
  const colon = ref.lastIndexOf(":");
  if (colon > ref.lastIndexOf("/")) return { name: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { name: ref, tag: at === -1 ? "latest" : null };
}
