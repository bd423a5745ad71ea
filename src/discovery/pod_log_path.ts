/**
 * Parses kubelet log paths: `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log`.
 * Pure: no I/O.
 *
 * @module
 */

import type { PodLogPath } from "../record.ts";

/** Why a path is not a kubelet container log path. */
export type PodLogPathFailure = "too_short" | "bad_pod_dir" | "bad_file_name";

/** The result of {@linkcode parsePodLogPath}. */
export type PodLogPathResult = { ok: true; value: PodLogPath } | { ok: false; reason: PodLogPathFailure };

const UID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HASH_RE = /^[0-9a-f]{32}$/;
const LOG_NAME_RE = /^(\d+)\.log(?:\.\d{8}-\d{6}(?:\.\d+)?)?$/;

/**
 * Reads namespace, pod, UID, container and restart count from a log path. Namespaces and pod names
 * cannot contain `_` (DNS-1123), so the directory splits on the first and last underscore; static
 * pods carry a 32-hex config hash instead of a UID. Rotated names (`0.log.20240101-120000`) parse too.
 *
 * @example
 * ```ts
 * const r = parsePodLogPath("/var/log/pods/ml_trainer-0_0f8e...-c5/worker/2.log");
 * // r.ok && r.value.restartCount === 2
 * ```
 */
export function parsePodLogPath(path: string): PodLogPathResult {
  const parts = path.split("/");
  if (parts.length < 3) return { ok: false, reason: "too_short" };
  const fileName = parts[parts.length - 1];
  const containerName = parts[parts.length - 2];
  const podDir = parts[parts.length - 3];
  const m = LOG_NAME_RE.exec(fileName);
  if (m === null || containerName === "") return { ok: false, reason: "bad_file_name" };
  const first = podDir.indexOf("_");
  const last = podDir.lastIndexOf("_");
  if (first <= 0 || last <= first + 1 || last === podDir.length - 1) {
    return { ok: false, reason: "bad_pod_dir" };
  }
  const podUid = podDir.slice(last + 1);
  return {
    ok: true,
    value: {
      path,
      namespace: podDir.slice(0, first),
      podName: podDir.slice(first + 1, last),
      podUid,
      containerName,
      restartCount: Number(m[1]),
      isStaticPod: !UID_RE.test(podUid) && HASH_RE.test(podUid),
      containerKey: `${podDir}/${containerName}`,
    },
  };
}
