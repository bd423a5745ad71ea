import assert from "node:assert/strict";
import { bodiesByStream, startHarness } from "../_helpers/agent_harness.ts";
import { waitFor } from "../_helpers/agent_process.ts";
import { ContainerLog, fakeUid } from "../_helpers/kubelet_tree.ts";

const SPEC = { namespace: "ml", pod: "trainer-0", uid: fakeUid(1), container: "worker" };

function expectSequence(got: string[] | undefined, prefix: string, count: number): void {
  assert.ok(got !== undefined, `no records for ${prefix}`);
  const want = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  assert.deepEqual(got, want);
}

Deno.test("tailer delivers every record once with path resource attributes, stitched pieces and multibyte text", async () => {
  await using h = await startHarness();
  const log = new ContainerLog(h.root, SPEC);
  const long = "é".repeat(5000) + "🚀".repeat(3000) + " end";
  for (let i = 0; i < 300; i++) {
    log.write("stdout", `out ${i} ünïcödé ✓`);
    log.write("stderr", `err ${i}`);
  }
  log.write("stdout", long, [1, 777, 5001, 9999, 16000]);
  log.close();
  await h.sink.waitForRecords(601);
  assert.equal(h.sink.records.length, 601);
  const first = h.sink.records[0];
  assert.deepEqual(first.resource, {
    "k8s.namespace.name": "ml",
    "k8s.pod.name": "trainer-0",
    "k8s.pod.uid": SPEC.uid,
    "k8s.container.name": "worker",
    "k8s.container.restart_count": 0,
  });
  const byStream = bodiesByStream(h.sink);
  const out = byStream.get(`${log.path}|stdout`)!;
  assert.equal(out.length, 301);
  assert.equal(out[300], long, "P pieces split inside characters join back intact");
  assert.deepEqual(out.slice(0, 3), ["out 0 ünïcödé ✓", "out 1 ünïcödé ✓", "out 2 ünïcödé ✓"]);
  expectSequence(byStream.get(`${log.path}|stderr`), "err ", 300);
  const timestamps = h.sink.records.map((r) => r.record.timeUnixNano);
  assert.ok(timestamps.every((t) => t > 1_600_000_000_000_000_000n), "time is the CRI timestamp in ns");
});

Deno.test("tailer stitches interleaved stdout and stderr pieces per stream", async () => {
  await using h = await startHarness();
  const log = new ContainerLog(h.root, SPEC);
  const t = new Date();
  const { criLine } = await import("../_helpers/kubelet_tree.ts");
  log.writeRaw(criLine(t, "stdout", "P", "out-a "));
  log.writeRaw(criLine(t, "stderr", "P", "err-a "));
  log.writeRaw(criLine(t, "stdout", "P", "out-b "));
  log.writeRaw(criLine(t, "stderr", "F", "err-b"));
  log.writeRaw(criLine(t, "stdout", "F:extra", "out-c"));
  log.close();
  await h.sink.waitForRecords(2);
  const byStream = bodiesByStream(h.sink);
  assert.deepEqual(byStream.get(`${log.path}|stdout`), ["out-a out-b out-c"]);
  assert.deepEqual(byStream.get(`${log.path}|stderr`), ["err-a err-b"]);
});

Deno.test("tailer ships malformed lines raw with a parse error attribute", async () => {
  await using h = await startHarness();
  const log = new ContainerLog(h.root, SPEC);
  log.writeRaw("this is not a CRI line\n");
  log.writeRaw(new Uint8Array([0xff, 0xfe, 0x41, 10]));
  log.write("stdout", "fine");
  log.close();
  await h.sink.waitForRecords(3);
  const got = h.sink.records.map((r) => [r.record.body, r.record.attributes["log.parse_error"]]);
  assert.deepEqual(got, [
    ["this is not a CRI line", "malformed_timestamp"],
    ["\uFFFD\uFFFDA", "malformed_timestamp"],
    ["fine", undefined],
  ]);
  assert.equal(h.agent.metrics.malformedLines.get("malformed_timestamp"), 2);
});

Deno.test("tailer flushes a partial record without its F piece after the timeout at EOF", async () => {
  await using h = await startHarness();
  const log = new ContainerLog(h.root, SPEC);
  const { criLine } = await import("../_helpers/kubelet_tree.ts");
  log.writeRaw(criLine(new Date(), "stdout", "P", "never finished"));
  await h.sink.waitForRecords(1);
  const rec = h.sink.records[0].record;
  assert.equal(rec.body, "never finished");
  assert.equal(rec.attributes["log.partial_flush"], "timeout");
  assert.equal(h.agent.metrics.partialFlushes.get("timeout"), 1);
  log.close();
});

Deno.test("tailer caps a record at max_log_size and marks it truncated", async () => {
  await using h = await startHarness({ config: { max_log_size: "1KiB", memory_limit: "1MiB" } });
  const log = new ContainerLog(h.root, SPEC);
  log.write("stdout", "x".repeat(5000), [1000, 2000, 3000]);
  log.write("stdout", "y".repeat(3000));
  log.write("stdout", "after");
  log.close();
  await h.sink.waitForRecords(3);
  const got = h.sink.records.map((r) => [String(r.record.body).length, r.record.attributes["log.truncated"]]);
  assert.deepEqual(got, [[1024, true], [1024, true], [5, undefined]]);
  assert.equal(h.agent.metrics.truncatedRecords.get(), 2);
});

Deno.test("tailer follows rename rotation while the writer still writes the old descriptor", async () => {
  await using h = await startHarness();
  const log = new ContainerLog(h.root, SPEC);
  for (let i = 0; i < 100; i++) log.write("stdout", `r${i}`);
  await h.sink.waitForRecords(50);
  const { oldFile } = log.rotate({ keepOldOpen: true });
  const enc = new TextEncoder();
  const { criLine } = await import("../_helpers/kubelet_tree.ts");
  for (let i = 100; i < 150; i++) oldFile!.writeSync(criLine(new Date(), "stdout", "F", enc.encode(`r${i}`)));
  oldFile!.close();
  for (let i = 150; i < 250; i++) log.write("stdout", `r${i}`);
  log.close();
  await h.sink.waitForRecords(250);
  await waitFor(() => h.agent.metrics.rotations.get() >= 1);
  const all = h.sink.records.map((r) => String(r.record.body));
  assert.equal(all.length, 250);
  assert.deepEqual(new Set(all), new Set(Array.from({ length: 250 }, (_, i) => `r${i}`)));
  expectSequence(all.filter((b) => Number(b.slice(1)) < 150), "r", 150);
  // The rotated file is closed once drained and quiet for rotate_wait; only 0.log stays open.
  await waitFor(() => h.agent.metrics.filesOpen.get() === 1, {
    message: () => `files_open=${h.agent.metrics.filesOpen.get()}`,
  });
});

Deno.test("tailer reads both files when kubelet rotates twice between two scans", async () => {
  await using h = await startHarness({ config: { tail: { rescan_interval: "2s" } } });
  const log = new ContainerLog(h.root, SPEC);
  for (let i = 0; i < 10; i++) log.write("stdout", `a${i}`);
  await h.sink.waitForRecords(10);
  // Synchronous: the agent cannot run between these two rotations.
  log.rotate();
  for (let i = 0; i < 10; i++) log.write("stdout", `b${i}`);
  log.rotate();
  for (let i = 0; i < 10; i++) log.write("stdout", `c${i}`);
  log.close();
  await h.sink.waitForRecords(30, { timeoutMs: 15_000 });
  const all = new Set(h.sink.records.map((r) => String(r.record.body)));
  for (const p of ["a", "b", "c"]) {
    for (let i = 0; i < 10; i++) assert.ok(all.has(`${p}${i}`), `${p}${i} missing`);
  }
  assert.equal(h.sink.records.length, 30);
});

Deno.test("tailer reads a copytruncated file again from the start and counts the truncation", async () => {
  await using h = await startHarness();
  const log = new ContainerLog(h.root, SPEC);
  for (let i = 0; i < 20; i++) log.write("stdout", `before ${i} ${"-".repeat(50)}`);
  await h.sink.waitForRecords(20);
  log.truncate();
  await waitFor(() => h.agent.metrics.truncations.get("size_shrank") === 1);
  for (let i = 0; i < 5; i++) log.write("stdout", `after ${i}`);
  log.close();
  await h.sink.waitForRecords(25);
  const after = h.sink.records.slice(20).map((r) => String(r.record.body));
  assert.deepEqual(after, ["after 0", "after 1", "after 2", "after 3", "after 4"]);
});

Deno.test("tailer treats N.log after a container restart as a new file of the same container", async () => {
  await using h = await startHarness();
  const first = new ContainerLog(h.root, SPEC);
  first.write("stdout", "run 0");
  first.close();
  const second = new ContainerLog(h.root, { ...SPEC, restart: 1 });
  second.write("stdout", "run 1");
  second.close();
  await h.sink.waitForRecords(2);
  const got = h.sink.records.map((r) => [r.record.body, r.resource["k8s.container.restart_count"]]).sort();
  assert.deepEqual(got, [["run 0", 0], ["run 1", 1]]);
});

Deno.test("tailer counts the unread bytes of a rotated file deleted while reading is paused", async () => {
  await using h = await startHarness({
    sinkMode: { status: 503, retryAfterSeconds: 0 },
    config: {
      memory_limit: "1MiB",
      max_log_size: "1KiB",
      tail: { drain_deadline: "1s", read_buffer_size: "64KiB" },
    },
  });
  const log = new ContainerLog(h.root, SPEC);
  const body = "z".repeat(900);
  for (let i = 0; i < 4000; i++) log.write("stdout", `${i} ${body}`);
  await waitFor(() =>
    h.agent.metrics.pausedSeconds.get() > 0 || h.agent.metrics.inflightBytes.get() >= 1_048_576
  );
  const { rotatedPath } = log.rotate();
  Deno.removeSync(rotatedPath);
  log.close();
  await waitFor(() => h.agent.metrics.bytesLost.total() > 0, {
    message: () => `lost=${h.agent.metrics.bytesLost.total()}`,
  });
  assert.ok(h.agent.metrics.bytesLost.get("deleted_while_paused") > 1_000_000);
  assert.equal(h.agent.metrics.filesLost.get("deleted_while_paused"), 1);
  assert.ok(h.logs.some((l) => l.includes("BackpressureDrop") && l.includes("raised")), "the Kind is raised");
  const metricsText = h.agent.registry.health();
  assert.ok(metricsText.components.tailer.isHealthy);
  h.sink.respondWith({ status: 200 });
});

Deno.test("tailer resends after 503 with Retry-After and delivers everything exactly once", async () => {
  let answered = 0;
  await using h = await startHarness({
    sinkMode: () => answered++ < 3 ? { status: 503, retryAfterSeconds: 1 } : { status: 200 },
  });
  const log = new ContainerLog(h.root, SPEC);
  for (let i = 0; i < 500; i++) log.write("stdout", `m${i}`);
  log.close();
  await h.sink.waitForRecords(500, { timeoutMs: 15_000 });
  // Positive signal first: every batch has its outcome and nothing is queued, so no resend is pending.
  await waitFor(() =>
    h.agent.metrics.exportRecords.get("delivered") >= 500 && h.agent.metrics.exportQueueBatches.get() === 0
  );
  assert.equal(h.sink.records.length, 500, "no duplicates");
  expectSequence(h.sink.records.map((r) => String(r.record.body)), "m", 500);
  assert.ok(h.agent.metrics.exportRetries.total() >= 1);
});

Deno.test("tailer drops and counts a batch answered 400 and keeps going", async () => {
  let answered = 0;
  await using h = await startHarness({
    sinkMode: () => answered++ === 0 ? { status: 400, body: "bad request: schema" } : { status: 200 },
  });
  const log = new ContainerLog(h.root, SPEC);
  log.write("stdout", "dropped");
  await waitFor(() => h.agent.metrics.exportRecords.get("dropped") === 1);
  log.write("stdout", "delivered");
  log.close();
  await h.sink.waitForRecords(1);
  assert.equal(h.sink.records[0].record.body, "delivered");
  assert.ok(h.logs.some((l) => l.includes("400")), "the drop is logged with its status");
});

Deno.test("tailer filters namespaces from the path", async () => {
  await using h = await startHarness({ config: { namespaces: { exclude: ["kube-*"] } } });
  const a = new ContainerLog(h.root, { ...SPEC, namespace: "kube-system", pod: "dns" });
  const b = new ContainerLog(h.root, SPEC);
  a.write("stdout", "system");
  b.write("stdout", "user");
  await h.sink.waitForRecords(1);
  // Positive signal first: two more scans saw both files, and a later line of the wanted file arrived.
  const scans = h.agent.metrics.rescans.total();
  await waitFor(() => h.agent.metrics.rescans.total() >= scans + 2);
  a.write("stdout", "system again");
  b.write("stdout", "user again");
  a.close();
  b.close();
  await h.sink.waitForRecords(2);
  assert.deepEqual(h.sink.records.map((r) => String(r.record.body)), ["user", "user again"]);
});

Deno.test("tailer raises FingerprintCardinality above tail.max_tracked_files", async () => {
  await using h = await startHarness({ config: { tail: { max_tracked_files: 2, max_open_files: 2 } } });
  for (let i = 0; i < 3; i++) {
    const log = new ContainerLog(h.root, { ...SPEC, pod: `p${i}`, uid: fakeUid(10 + i) });
    log.write("stdout", `pod ${i}`);
    log.close();
  }
  await h.sink.waitForRecords(2);
  await waitFor(() => h.logs.some((l) => l.includes("FingerprintCardinality")));
});

Deno.test("tailer raises CursorWriteFailed when the cursor store fails and keeps delivering", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cso-kv-" });
  const kv = await Deno.openKv(`${dir}/cursor.kv`);
  try {
    await using h = await startHarness({ kv });
    const log = new ContainerLog(h.root, SPEC);
    log.write("stdout", "before");
    await h.sink.waitForRecords(1);
    await waitFor(() => h.agent.metrics.cursorCommits.get() >= 1);
    kv.close();
    log.write("stdout", "after");
    log.close();
    await h.sink.waitForRecords(2);
    await waitFor(() => h.agent.metrics.cursorCommitFailures.get() >= 1);
    assert.ok(h.logs.some((l) => l.includes("CursorWriteFailed")), "the Kind is raised and logged");
    assert.equal(h.sink.records[1].record.body, "after");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tailer raises RotationStalled and counts the bytes of a file that vanished unread while it was down", async () => {
  await using sink = await (await import("../_fakes/otlp_sink.ts")).startOtlpSink({ mode: { status: 503 } });
  const dir = await Deno.makeTempDir({ prefix: "cso-gone-" });
  try {
    let path = "";
    {
      await using h = await startHarness({ dir, sink });
      const log = new ContainerLog(h.root, SPEC);
      for (let i = 0; i < 50; i++) log.write("stdout", `unsent ${i}`);
      log.close();
      path = log.path;
      await waitFor(() => h.agent.metrics.exportRetries.total() >= 1);
      await waitFor(() => h.agent.metrics.cursorCommits.get() >= 1);
    }
    const size = Deno.statSync(path).size;
    Deno.removeSync(path);
    sink.respondWith({ status: 200 });
    await using h2 = await startHarness({ dir, sink });
    assert.equal(h2.agent.metrics.bytesLost.get("gone_while_down"), size);
    assert.equal(h2.agent.metrics.filesLost.get("gone_while_down"), 1);
    assert.ok(h2.logs.some((l) => l.includes("RotationStalled") && l.includes("gone_while_down")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tailer leaves log.file.path out when include_file_path is false", async () => {
  await using h = await startHarness({ config: { include_file_path: false } });
  const log = new ContainerLog(h.root, SPEC);
  log.write("stderr", "no path");
  log.close();
  await h.sink.waitForRecords(1);
  assert.deepEqual(h.sink.records[0].record.attributes, { "log.iostream": "stderr" });
  assert.equal(h.sink.records[0].resource["k8s.container.name"], "worker");
});
