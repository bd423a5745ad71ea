/**
 * What `/status` shows of one tracked file (issue 12): a plain snapshot, built on request.
 *
 * @module
 */

import type { TailedFile } from "./tailed_file.ts";

/** Where a tracked file is, in the words an operator reads in `/status`. */
export type FileStatusState =
  | "reading"
  | "waiting_for_descriptor"
  | "rotated_draining"
  | "refused"
  | "quarantined"
  | "idle_closed";

/** One tracked file in `/status`. */
export interface FileStatus {
  /** Where the file is now (the rotated name after a rename). */
  readonly path: string;
  /** `<dev>:<inode>`, the key of the file's identity. */
  readonly identity: string;
  /** Byte offset of the first byte not yet turned into lines. */
  readonly offset: number;
  /** Size of the file when last seen, in bytes. */
  readonly sizeBytes: number;
  /** `sizeBytes - offset`, never negative. */
  readonly bytesBehind: number;
  readonly state: FileStatusState;
  /** The pod the file belongs to, from its path (null when the path is not under /var/log/pods). */
  readonly pod: { readonly namespace: string; readonly name: string; readonly container: string } | null;
}

/** The `/status` view of `tf`. */
export function fileStatusOf(tf: TailedFile): FileStatus {
  const sizeBytes = Math.max(tf.lastSizeBytes, tf.readPosition);
  let state: FileStatusState;
  if (tf.state === "closed") state = "idle_closed";
  else if (tf.isRotated) state = "rotated_draining";
  else if (tf.state === "waiting") state = "waiting_for_descriptor";
  else state = "reading";
  const p = tf.podPath;
  return {
    path: tf.currentPath,
    identity: tf.key,
    offset: tf.consumedOffset,
    sizeBytes,
    bytesBehind: Math.max(0, sizeBytes - tf.consumedOffset),
    state,
    pod: p === null ? null : { namespace: p.namespace, name: p.podName, container: p.containerName },
  };
}
