import assert from "node:assert/strict";
import { waitFor } from "../_helpers/agent_process.ts";
import { startHarness } from "../_helpers/agent_harness.ts";
import { ContainerLog, fakeUid } from "../_helpers/kubelet_tree.ts";

Deno.test("agent raises DescriptorStarvation when more files have unread bytes than tail.max_open_files, and loses none", async () => {
  await using h = await startHarness({
    config: { tail: { max_open_files: 1, descriptor_starvation_after: "0", read_buffer_size: "64KiB" } },
  });
  const logs = [0, 1, 2].map((i) =>
    new ContainerLog(h.root, { namespace: "ml", pod: `p${i}`, uid: fakeUid(40 + i), container: "c" })
  );
  const body = "d".repeat(200);
  for (let n = 0; n < 2000; n++) {
    for (const [i, log] of logs.entries()) log.write("stdout", `${i}-${n} ${body}`);
  }
  await waitFor(() => h.logs.some((l) => l.includes("DescriptorStarvation") && l.includes("raised")), {
    timeoutMs: 20_000,
    message: () => h.logs.join("\n"),
  });
  await h.sink.waitForRecords(6000, { timeoutMs: 30_000 });
  const bodies = new Set(h.sink.records.map((r) => String(r.record.body)));
  for (let i = 0; i < 3; i++) {
    for (let n = 0; n < 2000; n++) assert.ok(bodies.has(`${i}-${n} ${body}`), `${i}-${n}`);
  }
  assert.equal(h.agent.metrics.bytesLost.total(), 0);
  for (const log of logs) log.close();
});
