/**
 * `/status` during a real run of the agent process: it lists the files the agent reads with their pod,
 * offset and lag. (Tests connect over loopback only; the refusal of other clients is the decision table of
 * `isStatusClientAllowed` in http_test.ts.)
 */

import assert from "node:assert/strict";
import { startOtlpSink } from "../_fakes/otlp_sink.ts";
import { freePort, spawnAgent, waitFor } from "../_helpers/agent_process.ts";
import { ContainerLog, fakeUid } from "../_helpers/kubelet_tree.ts";

interface FileEntry {
  path: string;
  identity: string;
  offset: number;
  sizeBytes: number;
  bytesBehind: number;
  state: string;
  namespace: string | null;
  podName: string | null;
}

Deno.test("agent /status lists every tracked file with its pod and lag during a real run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "status_e2e_" });
  await using sink = await startOtlpSink();
  const port = freePort();
  try {
    await Deno.mkdir(`${dir}/logs`);
    const logs = [
      new ContainerLog(`${dir}/logs`, {
        namespace: "ml",
        pod: "trainer-0",
        uid: fakeUid(1),
        container: "main",
      }),
      new ContainerLog(`${dir}/logs`, { namespace: "web", pod: "api-1", uid: fakeUid(2), container: "app" }),
    ];
    for (const log of logs) for (let i = 0; i < 20; i++) log.write("stdout", `line ${i}`);
    await Deno.writeTextFile(
      `${dir}/config.yaml`,
      [
        `include: ["${dir}/logs/*/*/*.log"]`,
        `cursor: { path: "${dir}/cursor/cursor.kv" }`,
        `exporter: { endpoint: "${sink.url}" }`,
        `batch: { max_delay: 50ms }`,
        `telemetry: { listen: "0.0.0.0:${port}" }`,
        `k8s: { mode: "off" }`,
        `tail: { rescan_interval: 200ms }`,
      ].join("\n"),
    );
    await using agent = spawnAgent({
      configPath: `${dir}/config.yaml`,
      readPaths: [dir],
      writePaths: [`${dir}/cursor`],
      netHosts: [`0.0.0.0:${port}`],
    });
    let files: FileEntry[] = [];
    await waitFor(async () => {
      try {
        const body = await (await fetch(`http://127.0.0.1:${port}/status`)).json();
        files = body.files;
        return files.length === 2 && files.every((f) => f.bytesBehind === 0 && f.offset > 0);
      } catch {
        return false; // not listening yet
      }
    }, { timeoutMs: 20_000, message: () => `files: ${JSON.stringify(files)}\n${agent.logLines.join("\n")}` });
    const byPath = new Map(files.map((f) => [f.path, f]));
    for (const log of logs) {
      const entry = byPath.get(log.path);
      assert.ok(entry !== undefined, `${log.path} missing from /status`);
      assert.equal(entry.state, "reading");
      assert.equal(entry.sizeBytes, log.bytesWritten);
      assert.equal(entry.offset, log.bytesWritten);
      assert.match(entry.identity, /^\d+:\d+$/);
      assert.deepEqual([entry.namespace, entry.podName], [log.spec.namespace, log.spec.pod]);
    }
    for (const log of logs) log.close();
    assert.equal(await agent.stop(), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
