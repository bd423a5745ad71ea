/**
 * Out-of-cluster connection settings from a kubeconfig file, parsed with `@kubernetes/client-node`'s
 * KubeConfig. The package is imported dynamically, only in kubeconfig mode: importing it enumerates the
 * whole environment (so it needs an unrestricted `--allow-env`) and adds ~85 MiB RSS, neither of which
 * the in-cluster agent should pay (measurements in docs/kubernetes.md). Requests still go through
 * Deno's fetch; only the parsing is borrowed.
 *
 * @module
 */

import { toError } from "../telemetry/log.ts";
/** What a kubeconfig's current context says about reaching the API server. */
export interface KubeconfigCredentials {
  /** API server URL of the current cluster. */
  readonly server: string;
  /** CA bundle (PEM) from `certificate-authority(-data)`, or null for the system roots. */
  readonly caPem: string | null;
  /** Client certificate and key (PEM), or null. */
  readonly certPem: string | null;
  readonly keyPem: string | null;
  /** Bearer token, or null. */
  readonly token: string | null;
  /** `insecure-skip-tls-verify`: Deno's fetch cannot skip verification per client; see docs/kubernetes.md. */
  readonly insecureSkipTlsVerify: boolean;
}

/** The kubeconfig cannot be used. */
export class KubeconfigError extends Error {
  override name = "KubeconfigError";
}

interface KubeConfigLike {
  loadFromFile(path: string): void;
  getCurrentCluster(): { server: string; caData?: string; caFile?: string; skipTLSVerify: boolean } | null;
  getCurrentUser():
    | {
      name: string;
      token?: string;
      certData?: string;
      certFile?: string;
      keyData?: string;
      keyFile?: string;
      exec?: unknown;
      authProvider?: unknown;
      username?: string;
    }
    | null;
}

/**
 * Reads the current context of the kubeconfig at `path`.
 * @throws {KubeconfigError} when the package cannot load (missing `--allow-env`), the file is unreadable or
 * invalid, or the user authenticates in a way this agent does not support (exec plugins, auth providers,
 * basic auth)
 */
export async function loadKubeconfig(path: string): Promise<KubeconfigCredentials> {
  let KubeConfig: new () => KubeConfigLike;
  try {
    ({ KubeConfig } = await import("@kubernetes/client-node"));
  } catch (thrown) {
    throw new KubeconfigError(
      `Cannot load @kubernetes/client-node for kubeconfig mode (it needs unrestricted --allow-env): ${
        toError(thrown).message
      }`,
      { cause: thrown },
    );
  }
  const config = new KubeConfig();
  try {
    config.loadFromFile(path);
  } catch (thrown) {
    throw new KubeconfigError(`Cannot read kubeconfig ${path}: ${toError(thrown).message}`, {
      cause: thrown,
    });
  }
  const cluster = config.getCurrentCluster();
  const user = config.getCurrentUser();
  if (cluster === null || !cluster.server) {
    throw new KubeconfigError(`Cannot use kubeconfig ${path}: the current context names no cluster server`);
  }
  if (user?.exec || user?.authProvider || user?.username) {
    throw new KubeconfigError(
      `Cannot use kubeconfig ${path}: user ${user.name} needs exec/auth-provider/basic auth, which is unsupported`,
    );
  }
  return {
    server: cluster.server,
    caPem: await pemFrom(path, "certificate-authority", cluster.caData, cluster.caFile),
    certPem: await pemFrom(path, "client-certificate", user?.certData, user?.certFile),
    keyPem: await pemFrom(path, "client-key", user?.keyData, user?.keyFile),
    token: user?.token ? user.token : null,
    insecureSkipTlsVerify: cluster.skipTLSVerify === true,
  };
}

async function pemFrom(
  path: string,
  field: string,
  data: string | undefined,
  file: string | undefined,
): Promise<string | null> {
  if (data) {
    try {
      return new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
    } catch (thrown) {
      throw new KubeconfigError(`Cannot use kubeconfig ${path}: ${field}-data is not base64`, {
        cause: thrown,
      });
    }
  }
  if (!file) return null;
  try {
    return await Deno.readTextFile(file);
  } catch (thrown) {
    throw new KubeconfigError(
      `Cannot read ${field} of kubeconfig ${path}: ${file}: ${toError(thrown).message}`,
      {
        cause: thrown,
      },
    );
  }
}
