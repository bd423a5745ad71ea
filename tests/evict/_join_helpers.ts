/**
 * Builders shared by the eviction join tests: pod log paths, records at a CRI time, detections.
 *
 * @module
 */

import { parsePodLogPath } from "../../src/discovery/mod.ts";
import type { EvictionJoinOptions } from "../../src/evict/mod.ts";
import type { Disruption } from "../../src/k8s/mod.ts";
import type { LogRecord, PodLogPath, ResourceRef } from "../../src/record.ts";

export const UID = "5f1d8c1e-0a6b-4c55-8f0e-2f6b8f2a1d01";
export const T0 = Date.parse("2026-03-01T12:00:00Z");

/** The defaults of the config rows, with `overrides`. */
export function joinOptions(overrides: Partial<EvictionJoinOptions> = {}): EvictionJoinOptions {
  return {
    lastLines: 50,
    maxLineBytes: 4096,
    maxContainerBytes: 64 * 1024,
    maxTotalBytes: 16 * 1024 * 1024,
    matchWindowMs: 30_000,
    maxWaitMs: 5_000,
    dedupTtlMs: 86_400_000,
    ...overrides,
  };
}

/** `/var/log/pods/ml_trainer-0_<uid>/<container>/<restart>.log` parsed. */
export function podPath(container = "main", restart = 0, uid = UID): PodLogPath {
  const r = parsePodLogPath(`/var/log/pods/ml_trainer-0_${uid}/${container}/${restart}.log`);
  if (!r.ok) throw new Error(`bad path: ${r.reason}`);
  return r.value;
}

const resources = new Map<string, ResourceRef>();

/** One shared resource per container, like the enricher's. */
export function resourceOf(path: PodLogPath): ResourceRef {
  let r = resources.get(path.containerKey);
  if (r === undefined) {
    r = {
      attributes: {
        "k8s.namespace.name": path.namespace,
        "k8s.pod.name": path.podName,
        "k8s.pod.uid": path.podUid,
        "k8s.container.name": path.containerName,
        "k8s.container.restart_count": path.restartCount,
        "k8s.node.name": "node-a",
      },
    };
    resources.set(path.containerKey, r);
  }
  return r;
}

/** A record of `path` at CRI time `atMs`. */
export function recordAt(
  path: PodLogPath,
  atMs: number,
  body: string | Uint8Array,
  stream: "stdout" | "stderr" = "stdout",
): LogRecord {
  return {
    hrTime: [Math.floor(atMs / 1000), (atMs % 1000) * 1e6],
    hrTimeObserved: [Math.floor(atMs / 1000), 0],
    body: body as string,
    attributes: { "log.iostream": stream, "gen_ai.training.rank": 3, "gen_ai.training.job_id": "job-7" },
    droppedAttributesCount: 0,
    resource: resourceOf(path),
    instrumentationScope: { name: "containerstdout", version: "test" },
  };
}

/** A detection with defaults for the pod of {@linkcode UID}. */
export function disruption(overrides: Partial<Disruption> = {}): Disruption {
  return {
    eventName: "k8s.pod.evicted",
    reason: "EvictionByEvictionAPI",
    message: "Eviction API: evicting",
    source: "pod_condition",
    podUid: UID,
    namespace: "ml",
    podName: "trainer-0",
    containerName: null,
    restartCount: null,
    timeMs: T0,
    timePrecisionMs: 1000,
    ...overrides,
  };
}
