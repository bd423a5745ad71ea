import assert from "node:assert/strict";
import type { RegistryHealth } from "../../src/lifecycle/mod.ts";
import {
  isLoopbackAddress,
  isStatusClientAllowed,
  parseListenAddress,
  TelemetryServer,
  type TelemetryServerOptions,
} from "../../src/telemetry/http.ts";
import { KindTracker } from "../../src/telemetry/kinds.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";

interface ListenCase {
  listen: string;
  want: { hostname: string; port: number } | "invalid";
}

const LISTEN_CASES: ListenCase[] = [
  { listen: "127.0.0.1:9464", want: { hostname: "127.0.0.1", port: 9464 } },
  { listen: "0.0.0.0:0", want: { hostname: "0.0.0.0", port: 0 } },
  { listen: ":9464", want: { hostname: "0.0.0.0", port: 9464 } },
  { listen: "[::1]:9464", want: { hostname: "::1", port: 9464 } },
  { listen: "[::]:80", want: { hostname: "::", port: 80 } },
  { listen: "[fe80::1%eth0]:9464", want: { hostname: "fe80::1%eth0", port: 9464 } },
  { listen: "metrics.local:8080", want: { hostname: "metrics.local", port: 8080 } },
  { listen: "9464", want: "invalid" },
  { listen: "localhost", want: "invalid" },
  { listen: "localhost:", want: "invalid" },
  { listen: "localhost:http", want: "invalid" },
  { listen: "::1:9464", want: "invalid" },
  { listen: "[::1]", want: "invalid" },
  { listen: "", want: "invalid" },
];

for (const { listen, want } of LISTEN_CASES) {
  Deno.test(`parseListenAddress reads ${JSON.stringify(listen)}`, () => {
    if (want === "invalid") {
      assert.throws(() => parseListenAddress(listen), { message: `Invalid listen address: ${listen}` });
    } else assert.deepEqual(parseListenAddress(listen), want);
  });
}

interface RunningServer extends AsyncDisposable {
  server: TelemetryServer;
  base: string;
  kinds: KindTracker;
  registry: MetricsRegistry;
  setHealth: (health: RegistryHealth) => void;
}

const HEALTHY: RegistryHealth = {
  isHealthy: true,
  components: {
    tailer: { isHealthy: true, detail: "12 files" },
    exporter: { isHealthy: true, detail: "ok" },
  },
};

async function startServer(
  listen = "127.0.0.1:0",
  more: Partial<TelemetryServerOptions> = {},
): Promise<RunningServer> {
  const registry = new MetricsRegistry();
  registry.counter("containerstdout_demo_total", "A demo counter", ["reason"]).inc(3, 'quote"d');
  const kinds = new KindTracker({ registry, now: () => 1_000 });
  let health = HEALTHY;
  const listening = Promise.withResolvers<{ hostname: string; port: number }>();
  const server = new TelemetryServer({
    listen,
    registry,
    kinds,
    health: () => health,
    onListen: (addr) => listening.resolve(addr),
    ...more,
  });
  await server.start(new AbortController().signal);
  const { hostname, port } = await listening.promise;
  assert.notEqual(port, 0);
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    server,
    base: `http://${host}:${port}`,
    kinds,
    registry,
    setHealth: (h) => health = h,
    [Symbol.asyncDispose]: () => server.stop(),
  };
}

interface Answer {
  status: number;
  contentType: string | null;
  body: string;
}

async function request(url: string, method = "GET"): Promise<Answer> {
  const res = await fetch(url, { method });
  return { status: res.status, contentType: res.headers.get("content-type"), body: await res.text() };
}

Deno.test("telemetry server serves /metrics as Prometheus text", async () => {
  await using s = await startServer();
  const answer = await request(`${s.base}/metrics`);
  assert.equal(answer.status, 200);
  assert.equal(answer.contentType, "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(answer.body, s.registry.render());
  assert.match(answer.body, /^containerstdout_demo_total\{reason="quote\\"d"\} 3$/m);
  assert.match(answer.body, /^containerstdout_degraded\{kind="Watch"\} 0$/m);
});

Deno.test("telemetry server /metrics shows a Kind raised after start", async () => {
  await using s = await startServer();
  s.kinds.raise("CursorWriteFailed", "disk full");
  const answer = await request(`${s.base}/metrics`);
  assert.match(answer.body, /^containerstdout_degraded\{kind="CursorWriteFailed"\} 1$/m);
  assert.match(answer.body, /^containerstdout_degraded_any 1$/m);
});

Deno.test("telemetry server /healthz answers ok even when components are unhealthy", async () => {
  await using s = await startServer();
  s.setHealth({ isHealthy: false, components: { tailer: { isHealthy: false, detail: "stopped" } } });
  assert.deepEqual(await request(`${s.base}/healthz`), {
    status: 200,
    contentType: "text/plain;charset=UTF-8",
    body: "ok\n",
  });
});

Deno.test("telemetry server /readyz is 200 with component detail when every component is healthy", async () => {
  await using s = await startServer();
  const answer = await request(`${s.base}/readyz`);
  assert.equal(answer.status, 200);
  assert.equal(answer.contentType, "application/json");
  assert.deepEqual(JSON.parse(answer.body), {
    ready: true,
    degraded: false,
    components: HEALTHY.components,
    kinds: [],
  });
});

Deno.test("telemetry server /readyz is 503 when a component is unhealthy", async () => {
  await using s = await startServer();
  const unhealthy: RegistryHealth = {
    isHealthy: false,
    components: { ...HEALTHY.components, informer: { isHealthy: false, detail: "not synced" } },
  };
  s.setHealth(unhealthy);
  const answer = await request(`${s.base}/readyz`);
  assert.equal(answer.status, 503);
  assert.deepEqual(JSON.parse(answer.body).components.informer, { isHealthy: false, detail: "not synced" });
});

Deno.test("telemetry server /readyz lists the raised Kinds with their reasons", async () => {
  await using s = await startServer();
  s.kinds.raise("RotationStalled", "0.log.20240101-120000 undrained past deadline");
  s.kinds.raise("Watch", "informer watch silent");
  s.kinds.raise("BackpressureDrop", "memory ceiling");
  s.kinds.clear("BackpressureDrop");
  const answer = await request(`${s.base}/readyz`);
  // Degraded is reported, not fatal: readiness follows component health.
  assert.equal(answer.status, 200);
  const body = JSON.parse(answer.body);
  assert.equal(body.degraded, true);
  assert.deepEqual(body.kinds, [
    {
      kind: "RotationStalled",
      isRaised: true,
      reason: "0.log.20240101-120000 undrained past deadline",
      sinceMs: 1_000,
    },
    { kind: "Watch", isRaised: true, reason: "informer watch silent", sinceMs: 1_000 },
  ]);
});

interface StatusCase {
  name: string;
  method: string;
  path: string;
  want: number;
}

const STATUS_CASES: StatusCase[] = [
  { name: "an unknown path", method: "GET", path: "/nope", want: 404 },
  { name: "the root", method: "GET", path: "/", want: 404 },
  { name: "a path below /metrics", method: "GET", path: "/metrics/x", want: 404 },
  { name: "a POST", method: "POST", path: "/metrics", want: 405 },
  { name: "a DELETE", method: "DELETE", path: "/readyz", want: 405 },
  { name: "a HEAD", method: "HEAD", path: "/healthz", want: 200 },
  { name: "a query string", method: "GET", path: "/healthz?verbose=1", want: 200 },
];

for (const { name, method, path, want } of STATUS_CASES) {
  Deno.test(`telemetry server answers ${name} with ${want}`, async () => {
    await using s = await startServer();
    const answer = await request(`${s.base}${path}`, method);
    assert.equal(answer.status, want);
  });
}

Deno.test("telemetry server listens on IPv6 loopback", async () => {
  await using s = await startServer("[::1]:0");
  assert.ok(s.base.startsWith("http://[::1]:"), s.base);
  assert.equal((await request(`${s.base}/healthz`)).status, 200);
});

Deno.test("telemetry server reports health while listening and stops idempotently", async () => {
  const s = await startServer();
  const health = s.server.health();
  assert.equal(health.isHealthy, true);
  assert.equal(health.detail, `listening on ${s.base.slice("http://".length)}`);
  await s.server.stop();
  await s.server.stop();
  assert.equal(s.server.health().isHealthy, false);
  await assert.rejects(() => fetch(`${s.base}/healthz`));
});

// ---------------------------------------------------------------------------------------------------------
// /status

const LOOPBACK_CASES: { address: string; want: boolean }[] = [
  { address: "127.0.0.1", want: true },
  { address: "127.3.2.1", want: true },
  { address: "::1", want: true },
  { address: "[::1]", want: true },
  { address: "::ffff:127.0.0.1", want: true },
  { address: "10.0.0.7", want: false },
  { address: "192.0.2.2", want: false },
  { address: "128.0.0.1", want: false },
  { address: "fd00::2", want: false },
  { address: "::ffff:10.0.0.7", want: false },
  { address: "0.0.0.0", want: false },
  { address: "localhost", want: false },
];

for (const { address, want } of LOOPBACK_CASES) {
  Deno.test(`isLoopbackAddress says ${want} for ${address}`, () => {
    assert.equal(isLoopbackAddress(address), want);
  });
}

const CLIENT_CASES: { name: string; remote: Deno.Addr; isRemoteAllowed: boolean; want: boolean }[] = [
  { name: "a loopback client", remote: tcp("127.0.0.1"), isRemoteAllowed: false, want: true },
  { name: "a pod-network client", remote: tcp("10.244.1.9"), isRemoteAllowed: false, want: false },
  {
    name: "a pod-network client when remote is allowed",
    remote: tcp("10.244.1.9"),
    isRemoteAllowed: true,
    want: true,
  },
  { name: "an IPv6 client", remote: tcp("fd00::9"), isRemoteAllowed: false, want: false },
  {
    name: "a Unix socket client",
    remote: { transport: "unix", path: "/run/x.sock" },
    isRemoteAllowed: false,
    want: true,
  },
];

function tcp(hostname: string): Deno.NetAddr {
  return { transport: "tcp", hostname, port: 40_000 };
}

for (const { name, remote, isRemoteAllowed, want } of CLIENT_CASES) {
  Deno.test(`isStatusClientAllowed ${want ? "lets in" : "refuses"} ${name}`, () => {
    assert.equal(isStatusClientAllowed(remote, isRemoteAllowed), want);
  });
}

Deno.test("telemetry server /status holds the providers' sections and the raised Kinds", async () => {
  await using s = await startServer("127.0.0.1:0", {
    status: {
      files: () => [{ path: "/var/log/pods/a/0.log", bytesBehind: 0 }],
      limiter: () => ({ ml: { mode: "drop", tokens: 3 } }),
    },
    now: () => 42,
  });
  s.kinds.raise("Watch", "informer watch silent");
  const answer = await request(`${s.base}/status`);
  assert.equal(answer.status, 200);
  assert.equal(answer.contentType, "application/json");
  assert.deepEqual(JSON.parse(answer.body), {
    files: [{ path: "/var/log/pods/a/0.log", bytesBehind: 0 }],
    limiter: { ml: { mode: "drop", tokens: 3 } },
    nowMs: 42,
    degraded: true,
    kinds: [{ kind: "Watch", isRaised: true, reason: "informer watch silent", sinceMs: 1_000 }],
  });
});

Deno.test("telemetry server /status shows a throwing provider's error and the other sections", async () => {
  await using s = await startServer("127.0.0.1:0", {
    status: {
      files: () => {
        throw new Error("file table busy");
      },
      limiter: () => ({}),
    },
  });
  const body = JSON.parse((await request(`${s.base}/status`)).body);
  assert.deepEqual(body.files, { error: "file table busy" });
  assert.deepEqual(body.limiter, {});
});

// Tests reach servers over loopback only, so a non-loopback client cannot be made for real here: the
// server's decision is this function of the connection's remote address, checked as a table.
const STATUS_CLIENT_CASES: { remote: Deno.Addr; isRemoteAllowed: boolean; want: boolean }[] = [
  { remote: { transport: "tcp", hostname: "127.0.0.1", port: 40000 }, isRemoteAllowed: false, want: true },
  { remote: { transport: "tcp", hostname: "::1", port: 40000 }, isRemoteAllowed: false, want: true },
  { remote: { transport: "tcp", hostname: "::ffff:127.0.0.1", port: 1 }, isRemoteAllowed: false, want: true },
  { remote: { transport: "tcp", hostname: "10.1.2.3", port: 40000 }, isRemoteAllowed: false, want: false },
  { remote: { transport: "tcp", hostname: "fd00::7", port: 40000 }, isRemoteAllowed: false, want: false },
  { remote: { transport: "tcp", hostname: "10.1.2.3", port: 40000 }, isRemoteAllowed: true, want: true },
  { remote: { transport: "unix", path: "/run/x.sock" }, isRemoteAllowed: false, want: true },
];

for (const { remote, isRemoteAllowed, want } of STATUS_CLIENT_CASES) {
  const who = "hostname" in remote ? remote.hostname : remote.transport;
  Deno.test(`isStatusClientAllowed says ${want} for ${who} with remote status ${isRemoteAllowed ? "on" : "off"}`, () => {
    assert.equal(isStatusClientAllowed(remote, isRemoteAllowed), want);
  });
}

Deno.test("telemetry server listening on every address answers /status and /metrics to a loopback client", async () => {
  await using s = await startServer("0.0.0.0:0");
  const port = new URL(s.base).port;
  assert.equal((await request(`http://127.0.0.1:${port}/status`)).status, 200);
  assert.equal((await request(`http://127.0.0.1:${port}/metrics`)).status, 200);
});
