import assert from "node:assert/strict";
import { type Assembler, RecordAssembler } from "../../src/assemble/mod.ts";
import { CursorStore } from "../../src/cursor/mod.ts";
import { startHarness } from "../_helpers/agent_harness.ts";
import { waitFor } from "../_helpers/agent_process.ts";
import { ContainerLog, criLine, fakeUid } from "../_helpers/kubelet_tree.ts";

const encoder = new TextEncoder();
const spec = (i: number) => ({ namespace: "ml", pod: `p-${i}`, uid: fakeUid(100 + i), container: "c" });

Deno.test("reader reads every file when more files than tail.max_open_files want reading", async () => {
  await using h = await startHarness({ config: { tail: { max_open_files: 2 } } });
  const logs = Array.from({ length: 6 }, (_, i) => new ContainerLog(h.root, spec(i)));
  logs.forEach((log, i) => log.write("stdout", `one line of pod ${i}`));
  await h.sink.waitForRecords(6);
  const bodies = h.sink.records.map((r) => String(r.record.body)).sort();
  assert.deepEqual(bodies, logs.map((_, i) => `one line of pod ${i}`).sort());
  assert.ok(h.agent.metrics.descriptorsReleased.get("max_open_files") >= 4);
  for (const log of logs) log.close();
});

Deno.test("reader ships a line longer than the read buffer as one record with its CRI time and stream", async () => {
  await using h = await startHarness({
    config: { tail: { read_buffer_size: "64KiB" }, max_log_size: "1MiB" },
  });
  const log = new ContainerLog(h.root, spec(10));
  const body = "x".repeat(300 * 1024);
  const time = new Date("2024-05-01T12:00:00.000Z");
  log.writeRaw(criLine(time, "stderr", "F", body));
  log.write("stdout", "after");
  await h.sink.waitForRecords(2);
  const [long, after] = h.sink.records;
  assert.equal(String(long.record.body), body);
  assert.equal(long.record.attributes["log.iostream"], "stderr");
  assert.equal(long.record.timeUnixNano, BigInt(time.getTime()) * 1_000_000n);
  assert.equal(String(after.record.body), "after");
  log.close();
});

Deno.test("reader cuts a line longer than max_log_size, flags and counts it, and skips the rest", async () => {
  await using h = await startHarness({
    config: { tail: { read_buffer_size: "64KiB" }, max_log_size: "100KiB" },
  });
  const log = new ContainerLog(h.root, spec(11));
  log.writeRaw(criLine(new Date(), "stdout", "F", "y".repeat(500 * 1024)));
  log.write("stdout", "next");
  await h.sink.waitForRecords(2);
  const [cut, next] = h.sink.records;
  assert.equal(String(cut.record.body), "y".repeat(100 * 1024));
  assert.equal(cut.record.attributes["log.truncated"], true);
  assert.equal(String(next.record.body), "next");
  assert.equal(h.agent.metrics.truncatedRecords.get(), 1);
  log.close();
});

Deno.test("reader joins P pieces whose tag holds non-ASCII bytes after the colon at byte offsets", async () => {
  await using h = await startHarness();
  const log = new ContainerLog(h.root, spec(12));
  const t = new Date();
  log.writeRaw(criLine(t, "stdout", "P:ééé", "pieceA-"));
  log.writeRaw(criLine(t, "stdout", "F:ééé", "pieceB"));
  await h.sink.waitForRecords(1);
  assert.equal(String(h.sink.records[0].record.body), "pieceA-pieceB");
  log.close();
});

Deno.test("reader ships lines with timestamps OTLP cannot hold raw with the observed time, counted", async () => {
  await using h = await startHarness();
  const log = new ContainerLog(h.root, spec(13));
  const lines = ["1969-12-31T23:59:59Z stdout F before", "9999-12-31T23:59:59.999999999Z stdout F after"];
  for (const line of lines) log.writeRaw(encoder.encode(`${line}\n`));
  await h.sink.waitForRecords(2);
  assert.deepEqual(h.sink.records.map((r) => String(r.record.body)), lines);
  for (const r of h.sink.records) {
    assert.equal(r.record.attributes["log.parse_error"], "timestamp_out_of_range");
    assert.equal(r.record.timeUnixNano, r.record.observedTimeUnixNano);
  }
  assert.equal(h.agent.metrics.malformedLines.get("timestamp_out_of_range"), 2);
  log.close();
});

Deno.test("reader refuses symlinks whose target leaves the log root, once, without read errors", async () => {
  await using h = await startHarness();
  const secretDir = `${h.dir}/secret`;
  await Deno.mkdir(secretDir);
  await Deno.writeTextFile(`${secretDir}/token`, "2024-05-01T12:00:00Z stdout F secret-token\n");
  await Deno.writeTextFile(`${secretDir}/0.log`, "2024-05-01T12:00:00Z stdout F secret-dir\n");
  const linked = new ContainerLog(h.root, spec(14));
  linked.close();
  await Deno.remove(linked.path);
  await Deno.symlink(`${secretDir}/token`, linked.path);
  const podDir = `${h.root}/ml_p-15_${fakeUid(115)}`;
  await Deno.mkdir(podDir, { recursive: true });
  await Deno.symlink(secretDir, `${podDir}/c`);
  const inside = new ContainerLog(h.root, spec(16));
  inside.write("stdout", "fine");
  await h.sink.waitForRecords(1);
  await waitFor(() => h.agent.metrics.filesRefused.get("symlink_outside_roots") === 2);
  const rescans = h.agent.metrics.rescans.get("periodic");
  await waitFor(() => h.agent.metrics.rescans.get("periodic") >= rescans + 3);
  inside.write("stdout", "still fine");
  await h.sink.waitForRecords(2);
  assert.equal(h.agent.metrics.filesRefused.get("symlink_outside_roots"), 2);
  assert.equal(
    h.agent.metrics.readErrors.get("PermissionDenied") + h.agent.metrics.readErrors.get("NotFound"),
    0,
  );
  assert.deepEqual(h.sink.records.map((r) => String(r.record.body)), ["fine", "still fine"]);
  const states = h.agent.snapshot().filter((s) => s.state === "refused").map((s) => s.path).sort();
  assert.deepEqual(states, [`${podDir}/c/0.log`, linked.path].sort());
  inside.close();
});

Deno.test("reader quarantines a file whose assembly throws and keeps reading the others", async () => {
  const poisoned = "p-17";
  await using h = await startHarness({
    assembler: (options): Assembler => {
      const real = new RecordAssembler(options);
      return {
        takeCounts: () => real.takeCounts(),
        open: (file) => {
          const assembly = real.open(file);
          if (!file.path.includes(poisoned)) return assembly;
          return {
            ...assembly,
            lines: () => {
              throw new Error("assembler bug for one file");
            },
            flush: (r, n) => assembly.flush(r, n),
            flushExpired: (n) => assembly.flushExpired(n),
            nextExpiryMs: () => assembly.nextExpiryMs(),
            pendingStartOffset: () => assembly.pendingStartOffset(),
            pendingBytes: () => assembly.pendingBytes(),
            longLine: (...a) => assembly.longLine(...a),
          };
        },
      };
    },
  });
  const bad = new ContainerLog(h.root, spec(17));
  const good = new ContainerLog(h.root, spec(18));
  bad.write("stdout", "never");
  await waitFor(() => h.agent.metrics.filesQuarantined.get("internal_error") >= 1);
  for (let i = 0; i < 5; i++) good.write("stdout", `good ${i}`);
  await h.sink.waitForRecords(5);
  assert.deepEqual(h.sink.records.map((r) => String(r.record.body)), [0, 1, 2, 3, 4].map((i) => `good ${i}`));
  const quarantined = h.agent.snapshot().filter((s) => s.state === "quarantined").map((s) => s.path);
  assert.deepEqual(quarantined, [bad.path]);
  bad.close();
  good.close();
});

Deno.test("reader leaves an unfinished P..F record of a live file unsent at shutdown; it arrives whole after restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cso-test-" });
  try {
    await using first = await startHarness({ dir });
    const log = new ContainerLog(first.root, spec(19));
    const t = new Date();
    log.write("stdout", "before");
    log.writeRaw(criLine(t, "stdout", "P", "head-"));
    await first.sink.waitForRecords(1);
    // The P piece was read once the line after it was: wait until the reader is past it.
    await waitFor(() => first.agent.metrics.linesRead.get() >= 2);
    await first.stopAgent();
    assert.equal(first.agent.metrics.partialFlushes.total(), 0);
    log.writeRaw(criLine(t, "stdout", "F", "tail"));
    await using second = await startHarness({ dir, sink: first.sink });
    await second.sink.waitForRecords(2);
    assert.deepEqual(second.sink.records.map((r) => String(r.record.body)), ["before", "head-tail"]);
    assert.equal(second.sink.records[1].record.attributes["log.partial_flush"], undefined);
    log.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reader closes an idle file after tail.close_inactive and reopens it from its offset when it grows", async () => {
  await using h = await startHarness({ config: { tail: { close_inactive: "1s" } } });
  const log = new ContainerLog(h.root, spec(20));
  log.write("stdout", "first");
  await h.sink.waitForRecords(1);
  await waitFor(() => h.agent.metrics.filesIdleClosed.get() >= 1, { timeoutMs: 10_000 });
  assert.equal(h.agent.metrics.filesOpen.get(), 0);
  assert.deepEqual(h.agent.snapshot().map((s) => s.state), ["idle_closed"]);
  log.write("stdout", "second");
  await h.sink.waitForRecords(2);
  assert.deepEqual(h.sink.records.map((r) => String(r.record.body)), ["first", "second"]);
  log.close();
});

Deno.test("reader commits the cursor soon after an acknowledgement, not only at the flush interval", async () => {
  using kv = await Deno.openKv(":memory:");
  await using h = await startHarness({ kv, config: { cursor: { flush_interval: "1m" } } });
  const log = new ContainerLog(h.root, spec(21));
  log.write("stdout", "acked");
  await h.sink.waitForRecords(1);
  const size = (await Deno.stat(log.path)).size;
  const store = new CursorStore({ kv });
  // Reading alone would commit only after a minute; the acknowledgement commits within ~200 ms.
  await waitFor(async () => [...(await store.loadAll()).values()].some((c) => c.offset === size), {
    timeoutMs: 5_000,
  });
  log.close();
});

Deno.test("reader pauses at memory_limit with a backlog and a slow receiver, and delivers everything", async () => {
  const limitBytes = 1024 * 1024;
  const bufferBytes = 64 * 1024;
  await using h = await startHarness({
    sinkMode: (i) => i < 15 ? { status: 503 } : { status: 200 },
    config: {
      memory_limit: "1MiB",
      max_log_size: "64KiB",
      batch: { max_bytes: "256KiB" },
      tail: { read_buffer_size: "64KiB" },
    },
  });
  const logs = Array.from({ length: 4 }, (_, i) => new ContainerLog(h.root, spec(30 + i)));
  const perFile = 6000;
  const filler = "z".repeat(150);
  for (let n = 0; n < perFile; n++) logs.forEach((log, i) => log.write("stdout", `${i}-${n} ${filler}`));
  let peakBytes = 0;
  const m = h.agent.metrics;
  const sampler = setInterval(() => {
    peakBytes = Math.max(peakBytes, m.memoryBytes.get("files") + m.memoryBytes.get("export"));
  }, 2);
  try {
    await h.sink.waitForRecords(4 * perFile, { timeoutMs: 60_000 });
  } finally {
    clearInterval(sampler);
  }
  assert.equal(h.sink.records.length, 4 * perFile, "nothing lost, nothing twice");
  assert.ok(m.backpressurePauses.get() >= 1, "reading paused at the ceiling");
  // The ceiling is checked before each read: at most one read's records above it.
  assert.ok(peakBytes <= limitBytes + 3 * bufferBytes, `peak ${peakBytes} bytes`);
  for (const log of logs) log.close();
});

Deno.test("read gate holds one file's bytes in the file while the others are read at full speed", async () => {
  let isOpen = false;
  await using h = await startHarness({
    readGate: (origin) => !isOpen && origin.podPath?.podName === "p-40" ? 20 : 0,
  });
  const gated = new ContainerLog(h.root, spec(40));
  const free = new ContainerLog(h.root, spec(41));
  gated.write("stdout", "held");
  for (let i = 0; i < 3; i++) free.write("stdout", `free ${i}`);
  await h.sink.waitForRecords(3);
  const scans = h.agent.metrics.rescans.total();
  await waitFor(() => h.agent.metrics.rescans.total() >= scans + 2);
  assert.deepEqual(h.sink.records.map((r) => String(r.record.body)), ["free 0", "free 1", "free 2"]);
  const status = h.agent.snapshot().find((s) => s.path === gated.path);
  assert.ok(status !== undefined && status.bytesBehind > 0, "its bytes wait in the file");
  isOpen = true;
  await h.sink.waitForRecords(4);
  assert.equal(String(h.sink.records[3].record.body), "held");
  gated.close();
  free.close();
});
