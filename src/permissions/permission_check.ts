/**
 * Start-up check of the permission set: before the agent connects, listens, reads or writes anything,
 * each host and path the config names must be allowed by the permission set it runs under (`deno.json`
 * `permissions.agent`, embedded in the compiled binary). One that is not fails the start with one line
 * naming it, the config key it came from and how to allow it, instead of a `NotCapable` stack trace on
 * the first request and a retry loop behind it.
 *
 * Deno 2.9.6 syntax of a `net` entry, measured (docs/permissions.md has the table): `host`, `host:port`,
 * `*.suffix[:port]` (the wildcard also matches the bare suffix and any depth of subdomain), IPv4 CIDR
 * `a.b.c.d/n[:port]`, `[v6]` / `[v6]:port`. No port ranges (`4317-4318` is refused), no `*` host, no IPv6
 * CIDR. A query names one `host:port`.
 *
 * @module
 */

/** A host or path the agent needs is not allowed by its permission set. */
export class PermissionCheckError extends Error {
  override name = "PermissionCheckError";
}

/** One place the agent will connect to, listen on, read or write. */
export interface PermissionTarget {
  /** `net`: `host:port` as Deno's permission query takes it (`[v6]:port`); `read`/`write`: a path. */
  readonly target: string;
  /** The config key (or other source) it came from, named in the error. */
  readonly source: string;
  /** Which permission. @default "net" */
  readonly permission?: "net" | "read" | "write";
  /** For `net`: whether the agent listens on it rather than connects to it. @default false */
  readonly isListen?: boolean;
}

/**
 * `host:port` of a URL, with the scheme's default port when the URL has none.
 *
 * @example
 * ```ts
 * netHostOfUrl("https://kubernetes.default.svc"); // "kubernetes.default.svc:443"
 * netHostOfUrl("http://[::1]:4318/v1"); // "[::1]:4318"
 * ```
 * @throws {TypeError} when `url` is not a URL
 */
export function netHostOfUrl(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port !== "" ? parsed.port : parsed.protocol === "https:" ? "443" : "80";
  return `${parsed.hostname}:${port}`;
}

/** The message of a {@linkcode PermissionCheckError} for `target`. */
export function permissionMessage(target: PermissionTarget): string {
  const permission = target.permission ?? "net";
  if (permission !== "net") {
    return `Cannot ${permission} ${target.target} (${target.source}): the agent's ${permission} permission does ` +
      `not allow it; add "${target.target}" to permissions.agent.${permission} in deno.json (deno task start), ` +
      `or mount it at an allowed path (image)`;
  }
  const verb = target.isListen === true ? "listen on" : "connect to";
  return `Cannot ${verb} ${target.target} (${target.source}): the agent's network permission does not allow it; ` +
    `add "${target.target}" to permissions.agent.net in deno.json (deno task start), or build the image with ` +
    `--build-arg ALLOWED_NET_HOSTS=${target.target}`;
}

/**
 * Checks every target against the permission set the process runs under, without prompting.
 *
 * @throws {PermissionCheckError} naming every target that is not allowed, one per line
 */
export async function requirePermissions(targets: readonly PermissionTarget[]): Promise<void> {
  const refused: string[] = [];
  for (const target of targets) {
    const permission = target.permission ?? "net";
    const status = await Deno.permissions.query(
      permission === "net" ? { name: "net", host: target.target } : { name: permission, path: target.target },
    );
    if (status.state !== "granted") refused.push(permissionMessage(target));
  }
  if (refused.length > 0) throw new PermissionCheckError(refused.join("\n"));
}
