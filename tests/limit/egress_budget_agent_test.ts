/**
 * Egress budgets in a running agent (issue 11 behaviour, issue 12 failure-mode rows): a drop budget drops
 * and counts one namespace's excess while every other namespace ships in full and `/status` shows the
 * limiter's state; evicting a key still over its budget raises RateLimitCardinality.
 */

import assert from "node:assert/strict";
import { startOtlpSink } from "../_fakes/otlp_sink.ts";
import { startHarness } from "../_helpers/agent_harness.ts";
import { freePort, readMetric, spawnAgent, waitFor } from "../_helpers/agent_process.ts";
import { ContainerLog, fakeUid } from "../_helpers/kubelet_tree.ts";

Deno.test("agent drops and counts the excess of a namespace over its drop budget, ships the others, and shows it in /status", async () => {
  const dir = await Deno.makeTempDir({ prefix: "egress_agent_" });
  await using sink = await startOtlpSink();
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  try {
    const noisy = new ContainerLog(`${dir}/logs`, {
      namespace: "noisy",
      pod: "n",
      uid: fakeUid(1),
      container: "c",
    });
    const quiet = new ContainerLog(`${dir}/logs`, {
      namespace: "quiet",
      pod: "q",
      uid: fakeUid(2),
      container: "c",
    });
    for (let i = 0; i < 200; i++) noisy.write("stdout", `noisy ${i}`);
    for (let i = 0; i < 50; i++) quiet.write("stdout", `quiet ${i}`);
    await Deno.writeTextFile(
      `${dir}/config.yaml`,
      [
        `include: ["${dir}/logs/*/*/*.log"]`,
        `cursor: { path: "${dir}/cursor/cursor.kv" }`,
        `exporter: { endpoint: "${sink.url}" }`,
        `batch: { max_delay: 50ms }`,
        `telemetry: { listen: "127.0.0.1:${port}" }`,
        `k8s: { mode: "off" }`,
        `egress_rate_limit:`,
        `  namespace_budgets:`,
        `    noisy: { records_per_second: 1, burst_records: 5, on_limit: drop }`,
      ].join("\n"),
    );
    await using agent = spawnAgent({
      configPath: `${dir}/config.yaml`,
      readPaths: [dir],
      writePaths: [`${dir}/cursor`],
    });
    const noisyShipped = (): number =>
      sink.records.filter((r) => String(r.record.body).startsWith("noisy ")).length;
    let dropped = 0;
    await waitFor(async () => {
      try {
        dropped = await readMetric(
          base,
          `containerstdout_ratelimit_dropped_records_total{namespace="noisy"}`,
        );
      } catch {
        return false; // not listening yet
      }
      return dropped + noisyShipped() === 200 && sink.records.length - noisyShipped() === 50;
    }, {
      timeoutMs: 20_000,
      message: () => `dropped ${dropped}, shipped ${sink.records.length}\n${agent.logLines.join("\n")}`,
    });
    assert.ok(dropped >= 150, `only ${dropped} of 200 dropped at 1 record/s with a burst of 5`);
    assert.equal(
      await readMetric(base, `containerstdout_records_dropped_total{reason="rate_limit"}`),
      dropped,
    );
    const status = await (await fetch(`${base}/status`)).json();
    const entry = status.limiter.find((n: { namespace: string }) => n.namespace === "noisy");
    assert.ok(entry !== undefined, JSON.stringify(status.limiter));
    assert.equal(entry.onLimit, "drop");
    assert.equal(entry.recordsPerSecond, 1);
    assert.ok(
      status.limiter.every((n: { namespace: string }) => n.namespace !== "quiet"),
      "quiet has no budget",
    );
    noisy.close();
    quiet.close();
    assert.equal(await agent.stop(), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent raises RateLimitCardinality when a namespace still over its budget is evicted at egress_rate_limit.max_keys", async () => {
  await using h = await startHarness({
    config: {
      egress_rate_limit: {
        default: { records_per_second: 1, burst_records: 1, on_limit: "drop" },
        max_keys: 1,
      },
    },
  });
  const logs = ["a", "b", "c"].map((ns, i) =>
    new ContainerLog(h.root, { namespace: ns, pod: "p", uid: fakeUid(60 + i), container: "c" })
  );
  for (let n = 0; n < 50; n++) for (const log of logs) log.write("stdout", `${log.spec.namespace} ${n}`);
  await waitFor(() => h.logs.some((l) => l.includes("RateLimitCardinality") && l.includes("raised")), {
    timeoutMs: 20_000,
    message: () => h.logs.join("\n"),
  });
  assert.ok(h.agent.metrics.ratelimitKeyEvictions.get("limited") > 0);
  for (const log of logs) log.close();
});
