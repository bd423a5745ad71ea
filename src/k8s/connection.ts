/**
 * Decides how to reach the API server (in-cluster service account, kubeconfig, or not at all) and
 * gathers what that needs, failing at startup with one clear error when something is missing.
 *
 * @module
 */

import { netHostOfUrl, PermissionCheckError, requirePermissions } from "../permissions/mod.ts";
import { toError } from "../telemetry/log.ts";
import { KubeconfigError, loadKubeconfig } from "./kubeconfig.ts";
import { FileTokenSource, StaticTokenSource, TokenReadError, type TokenSource } from "./token_source.ts";

/** `k8s.mode`. */
export type K8sMode = "auto" | "in_cluster" | "kubeconfig" | "off";

/** Options for {@linkcode resolveConnection}. */
export interface ResolveConnectionOptions {
  mode: K8sMode;
  /** Kubeconfig file (config `k8s.kubeconfig`, already defaulted from KUBECONFIG); empty: none. */
  kubeconfigPath: string;
  /** API server URL override; empty: `https://kubernetes.default.svc:443` in cluster, the kubeconfig server. */
  apiServer: string;
  tokenPath: string;
  caPath: string;
  tokenRefreshIntervalMs: number;
  /** Reads KUBERNETES_SERVICE_HOST (set in every pod: what tells `auto` to go in-cluster). */
  env: (name: string) => string | undefined;
}

/** Everything needed to build an {@linkcode ApiServerClient}. */
export interface ApiServerConnection {
  readonly mode: "in_cluster" | "kubeconfig";
  readonly baseUrl: string;
  readonly token: TokenSource | null;
  /** Extra CA certificates (PEM) trusted for the API server. */
  readonly caCerts: readonly string[];
  /** Client certificate and key (PEM), both or neither. */
  readonly certPem: string | null;
  readonly keyPem: string | null;
  readonly insecureSkipTlsVerify: boolean;
}

/** The API server connection cannot be set up as configured. */
export class K8sConnectionError extends Error {
  override name = "K8sConnectionError";
}

/**
 * Resolves `k8s.mode`. `auto` picks in-cluster when KUBERNETES_SERVICE_HOST (or `k8s.api_server`) is
 * set, else kubeconfig when a kubeconfig path is set, else none (null: path metadata only). In-cluster
 * connects to {@linkcode IN_CLUSTER_API_SERVER} unless `k8s.api_server` names another URL.
 * @throws {K8sConnectionError} when the chosen mode lacks what it needs (token, CA, kubeconfig), or the
 *   permission set does not allow the API server's host
 */
export async function resolveConnection(
  options: ResolveConnectionOptions,
): Promise<ApiServerConnection | null> {
  let mode = options.mode;
  if (mode === "off") return null;
  if (mode === "auto") {
    if (options.apiServer !== "" || nonEmpty(options.env("KUBERNETES_SERVICE_HOST"))) mode = "in_cluster";
    else if (options.kubeconfigPath !== "") mode = "kubeconfig";
    else return null;
  }
  const connection = mode === "in_cluster" ? await inCluster(options) : await fromKubeconfig(options);
  await requireApiServerAccess(connection.baseUrl, options.apiServer !== "" ? "k8s.api_server" : mode);
  return connection;
}

async function requireApiServerAccess(baseUrl: string, source: string): Promise<void> {
  let host: string;
  try {
    host = netHostOfUrl(baseUrl);
  } catch (thrown) {
    throw new K8sConnectionError(`Invalid API server URL: ${baseUrl}: ${toError(thrown).message}`, {
      cause: thrown,
    });
  }
  const what = source === "in_cluster"
    ? "k8s.mode in_cluster"
    : source === "kubeconfig"
    ? "the kubeconfig's server"
    : source;
  try {
    await requirePermissions([{ target: host, source: what }]);
  } catch (thrown) {
    if (!(thrown instanceof PermissionCheckError)) throw thrown;
    throw new K8sConnectionError(thrown.message, { cause: thrown });
  }
}

/** Creates the HTTP client carrying the connection's TLS settings (null when the defaults do). */
export function createHttpClient(connection: ApiServerConnection): Deno.HttpClient | null {
  const hasCert = connection.certPem !== null && connection.keyPem !== null;
  if (connection.caCerts.length === 0 && !hasCert) return null;
  try {
    if (hasCert) {
      return Deno.createHttpClient({
        caCerts: [...connection.caCerts],
        cert: connection.certPem!,
        key: connection.keyPem!,
      });
    }
    return Deno.createHttpClient({ caCerts: [...connection.caCerts] });
  } catch (thrown) {
    throw new K8sConnectionError(`Cannot use the API server TLS settings: ${toError(thrown).message}`, {
      cause: thrown,
    });
  }
}

async function inCluster(options: ResolveConnectionOptions): Promise<ApiServerConnection> {
  const baseUrl = inClusterUrl(options);
  const token = new FileTokenSource({
    path: options.tokenPath,
    refreshIntervalMs: options.tokenRefreshIntervalMs,
  });
  try {
    await token.token();
  } catch (thrown) {
    if (!(thrown instanceof TokenReadError)) throw thrown;
    throw new K8sConnectionError(`Cannot use in-cluster mode: ${thrown.message}`, { cause: thrown });
  }
  let caCerts: string[] = [];
  if (baseUrl.startsWith("https:")) {
    try {
      caCerts = [await Deno.readTextFile(options.caPath)];
    } catch (thrown) {
      throw new K8sConnectionError(
        `Cannot read API server CA bundle: ${options.caPath}: ${toError(thrown).message}`,
        {
          cause: thrown,
        },
      );
    }
  }
  return {
    mode: "in_cluster",
    baseUrl,
    token,
    caCerts,
    certPem: null,
    keyPem: null,
    insecureSkipTlsVerify: false,
  };
}

/**
 * The API server's in-cluster name. The API server certificate carries it, and the agent's permission set
 * names it (`kubernetes.default.svc:443`), so the agent never needs access to a raw service IP.
 */
export const IN_CLUSTER_API_SERVER = "https://kubernetes.default.svc:443";

function inClusterUrl(options: ResolveConnectionOptions): string {
  if (options.apiServer !== "") {
    return options.apiServer.includes("://") ? options.apiServer : `https://${options.apiServer}`;
  }
  // KUBERNETES_SERVICE_HOST (the service IP) only tells `auto` that it runs in a pod; connecting by
  // name keeps the permission set to one host name instead of every possible service IP (issue 12).
  return IN_CLUSTER_API_SERVER;
}

async function fromKubeconfig(options: ResolveConnectionOptions): Promise<ApiServerConnection> {
  if (options.kubeconfigPath === "") {
    throw new K8sConnectionError("Cannot use kubeconfig mode: no kubeconfig (--kubeconfig or KUBECONFIG)");
  }
  let creds;
  try {
    creds = await loadKubeconfig(options.kubeconfigPath);
  } catch (thrown) {
    if (!(thrown instanceof KubeconfigError)) throw thrown;
    throw new K8sConnectionError(thrown.message, { cause: thrown });
  }
  if ((creds.certPem === null) !== (creds.keyPem === null)) {
    throw new K8sConnectionError(
      `Cannot use kubeconfig ${options.kubeconfigPath}: client certificate and key must be given together`,
    );
  }
  return {
    mode: "kubeconfig",
    baseUrl: options.apiServer !== "" ? options.apiServer : creds.server,
    token: creds.token === null ? null : new StaticTokenSource(creds.token),
    caCerts: creds.caPem === null ? [] : [creds.caPem],
    certPem: creds.certPem,
    keyPem: creds.keyPem,
    insecureSkipTlsVerify: creds.insecureSkipTlsVerify,
  };
}

function nonEmpty(value: string | undefined): boolean {
  return value !== undefined && value !== "";
}
