/**
 * Adds hosts to the `agent` permission set's `net` list of deno.json: the Containerfile runs it with its
 * `ALLOWED_NET_HOSTS` build argument before `deno compile -P=agent`, for users whose collector or API
 * server lives outside the default list.
 *
 * ```sh
 * deno run --allow-read=deno.json --allow-write=deno.json src/permissions/allow_net_hosts.ts \
 *   "otel.example.com:4318,10.0.0.0/8:4318"
 * ```
 *
 * @module
 */

/** A host entry Deno 2.9.6 would refuse (measured; docs/permissions.md). */
export class NetHostSyntaxError extends Error {
  override name = "NetHostSyntaxError";
}

const LABEL = "[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?";
const NAME_RE = new RegExp(`^(\\*\\.)?${LABEL}(\\.${LABEL})*$`);
const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(\/(\d{1,2}))?$/;
const IPV6_RE = /^\[[0-9A-Fa-f:.]+\]$/;

/**
 * Checks one `net` entry: `host`, `host:port`, `*.suffix[:port]`, `a.b.c.d[/n][:port]`, `[v6][:port]`.
 *
 * @throws {NetHostSyntaxError} naming the entry and what Deno accepts instead
 */
export function checkNetHost(entry: string): void {
  const fail = (why: string): never => {
    throw new NetHostSyntaxError(`Invalid net host ${JSON.stringify(entry)}: ${why}`);
  };
  if (/^\[[^\]]*\]\//.test(entry)) fail("IPv6 CIDR ranges are not supported");
  const m = /^(\[[^\]]*\]|[^:]*)(?::([^:]*))?$/.exec(entry);
  if (m === null) fail("IPv6 addresses need brackets, like [fd00::1]:4318");
  const [, host, port] = m!;
  if (port !== undefined) {
    if (/^\d+-\d+$/.test(port)) fail("port ranges are not supported, list each port (host:4317,host:4318)");
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) fail(`port ${port} is not 0..65535`);
  }
  const v4 = IPV4_RE.exec(host);
  if (v4 !== null) {
    if (v4.slice(1, 5).some((octet) => Number(octet) > 255)) fail("an IPv4 octet is above 255");
    if (v4[6] !== undefined && Number(v4[6]) > 32) fail("an IPv4 prefix length is above 32");
    return;
  }
  if (IPV6_RE.test(host)) return;
  if (host === "*" || host.includes("*") && !host.startsWith("*.")) {
    fail("a wildcard must be one leading `*.` followed by a domain, like *.svc.cluster.local:4318");
  }
  if (!NAME_RE.test(host)) fail("not a host name, IPv4 address or CIDR, or [IPv6] address");
}

/**
 * deno.json text with `hosts` appended to `permissions.agent.net` (each once, in order).
 *
 * @throws {NetHostSyntaxError} for an entry Deno would refuse
 * @throws {Error} when the set has no `net` list to add to
 */
export function withNetHosts(denoJsonText: string, hosts: readonly string[]): string {
  const config = JSON.parse(denoJsonText);
  const net = config.permissions?.agent?.net;
  if (!Array.isArray(net)) {
    throw new Error("Cannot add net hosts: deno.json permissions.agent.net is not a list");
  }
  for (const host of hosts) {
    checkNetHost(host);
    if (!net.includes(host)) net.push(host);
  }
  return JSON.stringify(config, null, 2) + "\n";
}

/** Splits the build argument: commas or whitespace between entries, empty entries ignored. */
export function parseNetHostList(text: string): string[] {
  return text.split(/[\s,]+/).filter((entry) => entry !== "");
}

if (import.meta.main) {
  const hosts = parseNetHostList(Deno.args.join(","));
  try {
    const text = withNetHosts(await Deno.readTextFile("deno.json"), hosts);
    await Deno.writeTextFile("deno.json", text);
    console.log(hosts.length === 0 ? "No extra net hosts" : `Allowed net hosts added: ${hosts.join(", ")}`);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    Deno.exit(2);
  }
}
