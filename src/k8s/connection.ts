/**
 * Decides how to reach the API server (in-cluster service account, kubeconfig, or not at all) and
 * gathers what that needs, failing at startup with one clear error when something is missing.
 *
 * @module
 */

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
  /** API server URL override (`https://kubernetes.default.svc`); empty: from the environment. */
  apiServer: string;
  tokenPath: string;
  caPath: string;
  tokenRefreshIntervalMs: number;
  /** Reads KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT. */
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
 * set, else kubeconfig when a kubeconfig path is set, else none (null: path metadata only).
 * @throws {K8sConnectionError} when the chosen mode lacks what it needs (token, CA, host, kubeconfig)
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
  return mode === "in_cluster" ? await inCluster(options) : await fromKubeconfig(options);
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

function inClusterUrl(options: ResolveConnectionOptions): string {
  if (options.apiServer !== "") {
    return options.apiServer.includes("://") ? options.apiServer : `https://${options.apiServer}`;
  }
  const host = options.env("KUBERNETES_SERVICE_HOST") ?? "";
  const port = options.env("KUBERNETES_SERVICE_PORT") || "443";
  if (host === "") {
    throw new K8sConnectionError(
      "Cannot use in-cluster mode: KUBERNETES_SERVICE_HOST is not set and k8s.api_server is empty",
    );
  }
  return `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
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
