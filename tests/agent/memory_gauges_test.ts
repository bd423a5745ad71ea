import assert from "node:assert/strict";
import { startHarness } from "../_helpers/agent_harness.ts";
import { freePort, waitFor } from "../_helpers/agent_process.ts";
import { ContainerLog, fakeUid } from "../_helpers/kubelet_tree.ts";

const GAUGE = "containerstdout_memory_accounted_bytes";

function gaugeValue(text: string, where: string): number | undefined {
  const prefix = `${GAUGE}{where="${where}"} `;
  const line = text.split("\n").find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

Deno.test("/metrics shows the accounted bytes of a backlog while it waits, and none once it is delivered", async () => {
  const port = freePort();
  // The endpoint refuses the first requests: the read bytes wait, unacknowledged, in the export queue.
  await using h = await startHarness({
    sinkMode: (i) => i < 6 ? { status: 503 } : { status: 200 },
    config: { telemetry: { listen: `127.0.0.1:${port}` } },
  });
  const log = new ContainerLog(h.root, { namespace: "ml", pod: "p", uid: fakeUid(7), container: "c" });
  const lines = 3000;
  for (let n = 0; n < lines; n++) log.write("stdout", `line ${n} ${"x".repeat(100)}`);
  log.close();
  const url = `http://127.0.0.1:${port}/metrics`;
  let text = "";
  await waitFor(async () => {
    text = await (await fetch(url)).text();
    return (gaugeValue(text, "export") ?? 0) > 0;
  }, { timeoutMs: 10_000, intervalMs: 20, message: () => text });
  await h.sink.waitForRecords(lines, { timeoutMs: 20_000 });
  assert.equal(h.sink.records.length, lines, "every line delivered once");
  // No read round runs once the file is quiet: the scrape itself must bring the gauge down.
  await waitFor(async () => {
    text = await (await fetch(url)).text();
    return gaugeValue(text, "export") === 0 && gaugeValue(text, "files") === 0;
  }, { timeoutMs: 10_000, intervalMs: 100, message: () => text });
});
