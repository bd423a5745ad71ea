import assert from "node:assert/strict";
import { RecordAssembler } from "../../src/assemble/mod.ts";
import { validateConfig } from "../../src/config/mod.ts";
import { CursorStore } from "../../src/cursor/mod.ts";
import { Discovery } from "../../src/discovery/mod.ts";
import { Enricher } from "../../src/enrich/mod.ts";
import { LossLedger } from "../../src/ledger/mod.ts";
import { Progress } from "../../src/progress/mod.ts";
import { CursorSync } from "../../src/tailer/cursor_sync.ts";
import { type FileEvent, FileTable } from "../../src/tailer/file_table.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { KindTracker } from "../../src/telemetry/kinds.ts";
import { Logger } from "../../src/telemetry/log.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { ContainerLog, fakeUid } from "../_helpers/kubelet_tree.ts";

async function withTable(
  maxOpenFiles: number,
  run: (table: FileTable, root: string, dir: string) => Promise<void> | void,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cso-table-" });
  const kv = await Deno.openKv(":memory:");
  try {
    const root = `${dir}/pods`;
    await Deno.mkdir(root);
    const result = validateConfig(
      { include: [`${root}/*/*/*.log`], tail: { max_open_files: maxOpenFiles } },
      {
        env: () => undefined,
      },
    );
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    const config = result.value;
    const registry = new MetricsRegistry();
    const metrics = createAgentMetrics(registry);
    const kinds = new KindTracker({ registry });
    const logger = new Logger({ level: "error", write: () => {} });
    const progress = new Progress({ cursorFlushIntervalMs: 1000 });
    const enricher = new Enricher({ nodeName: "" });
    const table = new FileTable({
      discovery: new Discovery({
        include: config.include,
        exclude: [],
        namespacesInclude: [],
        namespacesExclude: [],
        metrics,
        logger,
      }),
      enricher,
      assembler: new RecordAssembler({
        sink: { push: () => {} },
        enrichment: enricher,
        scope: { name: "t", version: "0" },
        maxLogSizeBytes: config.maxLogSizeBytes,
        includeFilePath: false,
        partialFlushTimeoutMs: 1000,
      }),
      cursors: new CursorSync({
        cursorStore: new CursorStore({ kv }),
        progress,
        fingerprintBytes: 1024,
        metrics,
        kinds,
        logger,
      }),
      ledger: new LossLedger({ metrics, kinds, logger }),
      metrics,
      kinds,
      startAt: "beginning",
      maxLogSizeBytes: config.maxLogSizeBytes,
      tail: config.tail,
      now: Date.now,
    });
    await run(table, root, dir);
    for (const tf of table.byKey.values()) table.closeFd(tf);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const kindsOf = (events: FileEvent[]): string[] => events.map((e) => e.kind);
const spec = (i: number) => ({ namespace: "ns", pod: `p${i}`, uid: fakeUid(400 + i), container: "c" });

Deno.test("file table scan returns a new event per file found and nothing on a quiet rescan", async () => {
  await withTable(10, (table, root) => {
    const logs = [0, 1].map((i) => new ContainerLog(root, spec(i)));
    logs.forEach((l) => l.write("stdout", "x"));
    assert.deepEqual(kindsOf(table.scan(true, Date.now())), ["new", "new"]);
    assert.deepEqual(kindsOf(table.scan(false, Date.now())), []);
    logs.forEach((l) => l.close());
  });
});

Deno.test("file table scan returns a rotated event when kubelet renames a file", async () => {
  await withTable(10, (table, root) => {
    const log = new ContainerLog(root, spec(2));
    log.write("stdout", "x");
    table.scan(true, Date.now());
    log.rotate();
    log.write("stdout", "y");
    const events = table.scan(false, Date.now());
    assert.deepEqual(kindsOf(events).sort(), ["new", "rotated"]);
    log.close();
  });
});

Deno.test("file table scan returns a truncated event for a file that shrank under its read position", async () => {
  await withTable(10, async (table, root) => {
    const log = new ContainerLog(root, spec(3));
    log.write("stdout", "a long enough line");
    table.scan(true, Date.now());
    const tf = table.byPath.get(log.path)!;
    const read = tf.read(new Uint8Array(1024), Date.now);
    assert.equal(read.kind, "chunk");
    await Deno.truncate(log.path, 0);
    const events = table.scan(false, Date.now());
    assert.deepEqual(events.map((e) => e.kind === "truncated" ? e.reason : e.kind), ["size_shrank"]);
    log.close();
  });
});

Deno.test("file table scan returns a refused event for a symlink that leaves the roots", async () => {
  await withTable(10, async (table, root, dir) => {
    await Deno.writeTextFile(`${dir}/outside`, "x\n");
    const log = new ContainerLog(root, spec(4));
    log.close();
    await Deno.remove(log.path);
    await Deno.symlink(`${dir}/outside`, log.path);
    const events = table.scan(true, Date.now());
    assert.deepEqual(kindsOf(events), ["refused"]);
    assert.equal(table.byKey.size, 0);
  });
});

Deno.test("file table gives descriptors to waiting files by releasing caught-up ones at the cap", async () => {
  await withTable(1, (table, root) => {
    const logs = [5, 6].map((i) => new ContainerLog(root, spec(i)));
    logs.forEach((l) => l.write("stdout", "x"));
    const now = Date.now();
    table.scan(true, now);
    const [a, b] = [...table.byKey.values()];
    assert.deepEqual([a.state, b.state], ["active", "waiting"]);
    // Read to its end (a short read): caught up.
    assert.equal(a.read(new Uint8Array(1024), Date.now).kind, "chunk");
    assert.ok(a.isCaughtUp());
    table.balanceDescriptors(now);
    assert.deepEqual([a.state, b.state], ["waiting", "active"]);
    assert.ok(table.oldestDescriptorWaitMs(now) === 0);
    logs.forEach((l) => l.close());
  });
});
