import assert from "node:assert/strict";
import { startHarness } from "../_helpers/agent_harness.ts";
import { ContainerLog } from "../_helpers/kubelet_tree.ts";

for (const compression of ["zstd", "none"] as const) {
  Deno.test(`agent with exporter.compression ${compression} delivers every line, and says so on the wire`, async () => {
    await using h = await startHarness({ config: { exporter: { compression } } });
    const log = new ContainerLog(h.root, {
      namespace: "ml",
      pod: "p-z",
      uid: `u-${compression}`,
      container: "c",
    });
    const lines = [
      "plain text",
      "Grüße ✓ 日本語",
      ...Array.from({ length: 200 }, (_, i) => `step ${i} loss 0.${i}`),
    ];
    for (const line of lines) log.write("stdout", line);
    // A line the runtime wrote in two pieces (P, then F): one record.
    log.write("stderr", "a split line", [5]);
    log.close();
    const want = [...lines, "a split line"];
    await h.sink.waitForRecords(want.length);
    // Each line once (the sink decoded every request with its Content-Encoding).
    assert.deepEqual(h.sink.records.map((r) => r.record.body).sort(), want.sort());
    assert.ok(h.sink.requests.length > 0);
    for (const request of h.sink.requests) {
      assert.equal(request.encoding, compression === "none" ? null : compression);
    }
  });
}
