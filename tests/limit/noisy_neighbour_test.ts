/**
 * Egress budgets through real parts (issue 11): the agent as a process with the production permission
 * set, kubelet-style files in a temp dir, and the fake OTLP sink on loopback. Every wait is for a positive
 * signal; nothing asserts a wall-clock bound.
 */

import assert from "node:assert/strict";
import { type OtlpSink, startOtlpSink } from "../_fakes/otlp_sink.ts";
import { type AgentProcess, freePort, readMetric, spawnAgent, waitFor } from "../_helpers/agent_process.ts";
import { ContainerLog, fakeUid } from "../_helpers/kubelet_tree.ts";

const WAIT = { timeoutMs: 60_000 };

interface Scene extends AsyncDisposable {
  dir: string;
  sink: OtlpSink;
  /** One container per namespace. */
  log(namespace: string): ContainerLog;
  start(yamlLines: string[]): AgentProcess;
  /** One series from /metrics (0 when absent, NaN while the agent does not answer yet). */
  metric(series: string): Promise<number>;
  readonly base: string;
  /** Bodies received so far that start with `prefix`. */
  received(prefix: string): string[];
}

async function scene(): Promise<Scene> {
  const dir = await Deno.makeTempDir({ prefix: "cso-limit-" });
  const sink = await startOtlpSink();
  const port = freePort();
  const logs = new Map<string, ContainerLog>();
  const agents: AgentProcess[] = [];
  const base = `http://127.0.0.1:${port}`;
  return {
    dir,
    sink,
    base,
    log(namespace) {
      let log = logs.get(namespace);
      if (log === undefined) {
        log = new ContainerLog(`${dir}/pods`, {
          namespace,
          pod: `${namespace}-pod`,
          uid: fakeUid(logs.size + 1),
          container: "main",
        });
        logs.set(namespace, log);
      }
      return log;
    },
    start(yamlLines) {
      const config = [
        `include: ["${dir}/pods/*/*/*.log"]`,
        `cursor: { path: "${dir}/cursor/cursor.kv", flush_interval: 100ms }`,
        `exporter: { endpoint: "${sink.url}", max_concurrent_requests: 1 }`,
        `batch: { max_delay: 20ms }`,
        `telemetry: { listen: "127.0.0.1:${port}" }`,
        `k8s: { mode: "off" }`,
        `tail: { rescan_interval: 100ms }`,
        ...yamlLines,
      ].join("\n");
      Deno.writeTextFileSync(`${dir}/config.yaml`, config);
      const agent = spawnAgent({
        configPath: `${dir}/config.yaml`,
        readPaths: [dir],
        writePaths: [`${dir}/cursor`],
      });
      agents.push(agent);
      return agent;
    },
    // NaN until the agent listens, so a wait on it keeps waiting.
    metric: (series) => readMetric(base, series).catch(() => NaN),
    received: (prefix) =>
      sink.records.map((r) => String(r.record.body)).filter((body) => body.startsWith(prefix)),
    async [Symbol.asyncDispose]() {
      for (const agent of agents) await agent[Symbol.asyncDispose]();
      for (const log of logs.values()) log.close();
      await sink.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Writes `count` lines `<prefix>-<n> <ms> <padding>` as fast as possible, yielding now and then. */
async function writeFast(log: ContainerLog, prefix: string, count: number): Promise<void> {
  for (let n = 0; n < count; n++) {
    log.write("stdout", `${prefix}-${n} ${Date.now()} ${"x".repeat(40 + (n % 60))}`);
    if (n % 500 === 499) await new Promise((r) => setTimeout(r, 0));
  }
}

/** Writes `count` lines at `perSecond`, each stamped with its write time. */
async function writeSteady(
  log: ContainerLog,
  prefix: string,
  count: number,
  perSecond: number,
): Promise<void> {
  for (let n = 0; n < count; n++) {
    log.write("stdout", `${prefix}-${n} ${Date.now()}`);
    await new Promise((r) => setTimeout(r, 1000 / perSecond));
  }
}

function sequenceOf(body: string): number {
  return Number(body.slice(body.indexOf("-") + 1, body.indexOf(" ")));
}

/** Latency of each received record: receive order is close enough to arrival time for a report. */
function quietLatencies(sink: OtlpSink, prefix: string): number[] {
  return sink.records.filter((r) => String(r.record.body).startsWith(prefix)).map((r) => {
    const body = String(r.record.body);
    return Number(r.record.observedTimeUnixNano / 1_000_000n) - Number(body.split(" ")[1]);
  });
}

function p50(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

Deno.test({
  name:
    "egress budget drop: a noisy namespace is cut to its budget, the quiet one loses nothing, received + dropped = written",
  async fn() {
    await using s = await scene();
    const agent = s.start([
      "egress_rate_limit:",
      "  default: { records_per_second: 100000, burst_records: 100000, on_limit: drop }",
      "  namespace_budgets:",
      "    noisy: { records_per_second: 500, burst_records: 500, on_limit: drop }",
    ]);
    const noisyWritten = 20_000;
    const quietWritten = 30;
    await Promise.all([
      writeFast(s.log("noisy"), "noisy", noisyWritten),
      writeSteady(s.log("quiet"), "quiet", quietWritten, 10),
    ]);
    const dropped = () => s.metric('containerstdout_ratelimit_dropped_records_total{namespace="noisy"}');
    await waitFor(async () => s.received("noisy-").length + await dropped() >= noisyWritten, {
      ...WAIT,
      message: () => `noisy received ${s.received("noisy-").length}`,
    });
    await waitFor(() => s.received("quiet-").length >= quietWritten, WAIT);
    const noisy = s.received("noisy-");
    const noisyDropped = await dropped();
    assert.equal(noisy.length + noisyDropped, noisyWritten);
    assert.ok(noisyDropped > 0, "the noisy namespace was never limited");
    assert.equal(new Set(noisy).size, noisy.length, "a noisy record arrived twice");
    assert.deepEqual(s.received("quiet-").map(sequenceOf), Array.from({ length: quietWritten }, (_, i) => i));
    assert.equal(await s.metric('containerstdout_ratelimit_dropped_records_total{namespace="quiet"}'), 0);
    assert.ok(await s.metric('containerstdout_ratelimit_dropped_bytes_total{namespace="noisy"}') > 0);
    console.log(
      `drop: noisy ${noisy.length} received + ${noisyDropped} dropped = ${noisyWritten}; quiet p50 latency ` +
        `${p50(quietLatencies(s.sink, "quiet-"))} ms`,
    );
    assert.equal(await agent.stop(), 0);
  },
});

Deno.test({
  name:
    "egress budget delay: nothing is lost anywhere, the noisy namespace catches up in order, its pause is counted",
  async fn() {
    await using s = await scene();
    const agent = s.start([
      "egress_rate_limit:",
      "  namespace_budgets:",
      "    noisy: { records_per_second: 4000, burst_records: 1000, on_limit: delay }",
    ]);
    const noisyWritten = 20_000;
    const quietWritten = 30;
    await Promise.all([
      writeFast(s.log("noisy"), "noisy", noisyWritten),
      writeSteady(s.log("quiet"), "quiet", quietWritten, 10),
    ]);
    await waitFor(() => s.received("noisy-").length >= noisyWritten, {
      ...WAIT,
      message: () => `noisy received ${s.received("noisy-").length} of ${noisyWritten}`,
    });
    await waitFor(() => s.received("quiet-").length >= quietWritten, WAIT);
    // One export request at a time (config above), so arrival order is the agent's order.
    assert.deepEqual(s.received("noisy-").map(sequenceOf), Array.from({ length: noisyWritten }, (_, i) => i));
    assert.deepEqual(s.received("quiet-").map(sequenceOf), Array.from({ length: quietWritten }, (_, i) => i));
    assert.equal(await s.metric('containerstdout_ratelimit_dropped_records_total{namespace="noisy"}'), 0);
    const delayedSeconds = await s.metric(
      'containerstdout_ratelimit_delayed_seconds_total{namespace="noisy"}',
    );
    assert.ok(delayedSeconds > 0, "the noisy namespace was never paused");
    console.log(
      `delay: noisy paused ${delayedSeconds.toFixed(2)} s; quiet p50 latency ${
        p50(quietLatencies(s.sink, "quiet-"))
      } ms`,
    );
    assert.equal(await agent.stop(), 0);
  },
});

Deno.test({
  name: "egress budget drop: records dropped before a restart are not sent after it",
  async fn() {
    await using s = await scene();
    const config = [
      "egress_rate_limit:",
      "  namespace_budgets:",
      "    noisy: { records_per_second: 0.01, burst_records: 10, on_limit: drop }",
    ];
    const first = s.start(config);
    await writeFast(s.log("noisy"), "old", 2000);
    const dropped = () => s.metric('containerstdout_ratelimit_dropped_records_total{namespace="noisy"}');
    await waitFor(async () => s.received("old-").length + await dropped() >= 2000, WAIT);
    assert.equal(s.received("old-").length, 10);
    // Still in the drop phase (the bucket holds nothing) when the agent stops.
    assert.ok(await s.metric('containerstdout_ratelimit_limited_namespaces{on_limit="drop"}') >= 1);
    assert.equal(await first.stop(), 0);
    const before = s.sink.records.length;

    const second = s.start(config);
    await writeFast(s.log("noisy"), "new", 5);
    await writeFast(s.log("quiet"), "marker", 1);
    await waitFor(() => s.received("new-").length >= 5 && s.received("marker-").length >= 1, WAIT);
    const afterRestart = s.sink.records.slice(before).map((r) => String(r.record.body));
    assert.deepEqual(afterRestart.filter((body) => body.startsWith("old-")), []);
    assert.equal(await dropped(), 0);
    assert.equal(await second.stop(), 0);
  },
});

Deno.test({
  name: "egress budget key ceiling: evicting buckets of namespaces still limited raises RateLimitCardinality",
  async fn() {
    await using s = await scene();
    const agent = s.start([
      "egress_rate_limit:",
      "  default: { records_per_second: 0.01, burst_records: 1, on_limit: drop }",
      "  max_keys: 2",
    ]);
    const namespaces = ["ns-a", "ns-b", "ns-c", "ns-d"];
    for (const ns of namespaces) await writeFast(s.log(ns), ns, 5);
    await waitFor(
      async () => (await s.metric('containerstdout_degraded{kind="RateLimitCardinality"}')) === 1,
      WAIT,
    );
    assert.ok(await s.metric('containerstdout_ratelimit_key_evictions_total{state="limited"}') >= 1);
    assert.ok(await s.metric("containerstdout_ratelimit_keys") <= 2);
    const readyz = await (await fetch(`${s.base}/readyz`)).json();
    const kind = readyz.kinds.find((k: { kind: string }) => k.kind === "RateLimitCardinality");
    assert.match(kind.reason, /egress_rate_limit\.max_keys 2/);
    assert.equal(await agent.stop(), 0);
  },
});
