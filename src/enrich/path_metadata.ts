/**
 * Resource attributes known from the log path alone, available the instant a file is found.
 *
 * @module
 */

import type { Attributes, PodLogPath } from "../record.ts";

/** Options for {@linkcode pathResourceAttributes}. */
export interface PathResourceOptions {
  /** The node name (`k8s.node.name`); omitted when empty. */
  nodeName: string;
}

/** OTel semantic-convention resource attributes for a container, from its log path. */
export function pathResourceAttributes(path: PodLogPath, options: PathResourceOptions): Attributes {
  const attributes: Attributes = {
    "k8s.namespace.name": path.namespace,
    "k8s.pod.name": path.podName,
    "k8s.container.name": path.containerName,
    "k8s.container.restart_count": path.restartCount,
  };
  // A static pod's directory holds its config hash, not a UID; the mirror pod's UID differs from it,
  // so the hash is reported under the annotation kubelet gives the mirror pod.
  if (path.isStaticPod) attributes["k8s.pod.annotation.kubernetes.io/config.hash"] = path.podUid;
  else attributes["k8s.pod.uid"] = path.podUid;
  if (options.nodeName !== "") attributes["k8s.node.name"] = options.nodeName;
  return attributes;
}
