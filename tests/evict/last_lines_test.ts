import assert from "node:assert/strict";
import fc from "fast-check";
import {
  containerOverheadBytes,
  LastLines,
  type LastLinesOptions,
  LINE_OVERHEAD_BYTES,
} from "../../src/evict/mod.ts";
import { parsePodLogPath } from "../../src/discovery/mod.ts";
import { EncodedAnyValue } from "../../src/export/mod.ts";
import type { HrTime, PodLogPath, ResourceRef } from "../../src/record.ts";
import { assertProperty } from "../_helpers/property.ts";

const RESOURCE: ResourceRef = { attributes: {} };
const CONTEXT = { resource: RESOURCE, attributes: {} };

const paths = new Map<string, PodLogPath>();

function pathOf(pod: string, container: string): PodLogPath {
  const key = `${pod}/${container}`;
  let path = paths.get(key);
  if (path === undefined) {
    const r = parsePodLogPath(`/var/log/pods/ns_${pod}_${pod}/${container}/0.log`);
    if (!r.ok) throw new Error(r.reason);
    paths.set(key, path = r.value);
  }
  return path;
}

function push(
  rings: LastLines,
  pod: string,
  container: string,
  atMs: number,
  body: string | Uint8Array | EncodedAnyValue,
): void {
  const record = { hrTime: [Math.floor(atMs / 1000), (atMs % 1000) * 1e6] as HrTime, body, ...CONTEXT };
  rings.push(pathOf(pod, container), record, atMs);
}

function all(rings: LastLines, pod: string): string[] {
  return rings.linesOf(pod, () => true).map((l) => String(l.body));
}

const OPTIONS: LastLinesOptions = {
  lastLines: 3,
  maxLineBytes: 100,
  maxContainerBytes: 10_000,
  maxTotalBytes: 100_000,
};

Deno.test("last lines keep the newest eviction.last_lines records of a container, oldest first", () => {
  const rings = new LastLines(OPTIONS);
  for (let i = 1; i <= 7; i++) push(rings, "p", "main", i, `line ${i}`);
  assert.deepEqual(all(rings, "p"), ["line 5", "line 6", "line 7"]);
});

Deno.test("last lines cut a body longer than max_line_size, copying bytes so the record's buffer is free", () => {
  const rings = new LastLines(OPTIONS);
  const big = new Uint8Array(1_000).fill(65);
  push(rings, "p", "main", 1, big);
  push(rings, "p", "main", 2, "y".repeat(500));
  const [bytes, text] = rings.linesOf("p", () => true);
  assert.ok(bytes.isCut && text.isCut);
  assert.equal((bytes.body as Uint8Array).length, 100);
  assert.notEqual((bytes.body as Uint8Array).buffer, big.buffer);
  assert.equal((text.body as string).length, 100);
});

Deno.test("last lines copy bodies that view a shared read chunk at the end of the turn, keeping only what stays", async () => {
  const rings = new LastLines(OPTIONS);
  const text = new TextEncoder();
  // One read chunk, five records viewing it (as the assembler hands them over), one empty body.
  const chunk = text.encode("line 1\nline 2\n\nline 4\nline 5\n");
  const views = [[0, 6], [7, 13], [14, 14], [15, 21], [22, 28]].map(([a, b]) => chunk.subarray(a, b));
  views.forEach((body, i) => push(rings, "p", "main", i + 1, body));
  push(rings, "q", "main", 9, chunk.subarray(0, 6));
  const before = rings.linesOf("p", () => true).map((l) => l.body as Uint8Array);
  assert.ok(before.every((b) => b.buffer === chunk.buffer));
  await Promise.resolve();
  const after = rings.linesOf("p", () => true).map((l) => l.body as Uint8Array);
  assert.deepEqual(after.map((b) => new TextDecoder().decode(b)), ["", "line 4", "line 5"]);
  assert.ok(after.every((b) => b.buffer !== chunk.buffer), "no kept body keeps the chunk alive");
  // The three lines still in the ring share one buffer of their own bytes only.
  assert.equal(after[1].buffer, after[2].buffer);
  assert.equal(after[1].buffer.byteLength, 12);
  const [other] = rings.linesOf("q", () => true);
  assert.notEqual((other.body as Uint8Array).buffer, chunk.buffer);
  // A later turn copies only what it pushed: the earlier copies are not touched again.
  push(rings, "p", "main", 7, chunk.subarray(7, 13));
  await Promise.resolve();
  const last = rings.linesOf("p", () => true).map((l) => l.body as Uint8Array);
  assert.equal(last[0], after[1]);
  assert.deepEqual(last.map((b) => new TextDecoder().decode(b)), ["line 4", "line 5", "line 2"]);
  assert.notEqual(last[2].buffer, chunk.buffer);
});

Deno.test("last lines copy encoded JSON bodies that view the JSON stage's output chunk at the end of the turn", async () => {
  const rings = new LastLines(OPTIONS);
  // Two kvlist encodings side by side in one output chunk, as the JSON stage writes them.
  const chunk = Uint8Array.of(0x32, 0x00, 0x32, 0x00, 0xff);
  push(rings, "p", "main", 1, new EncodedAnyValue(chunk.subarray(0, 2)));
  push(rings, "p", "main", 2, new EncodedAnyValue(chunk.subarray(2, 4)));
  await Promise.resolve();
  const kept = rings.linesOf("p", () => true).map((l) => l.body);
  assert.ok(kept.every((b) => b instanceof EncodedAnyValue));
  const bytes = kept.map((b) => (b as EncodedAnyValue).bytes);
  assert.ok(bytes.every((b) => b.buffer !== chunk.buffer), "no kept body keeps the chunk alive");
  chunk.fill(0);
  assert.deepEqual(bytes.map((b) => [...b]), [[0x32, 0], [0x32, 0]]);
});

Deno.test("last lines drop a container's oldest lines over max_container_size and count them", () => {
  const perLine = 100 + LINE_OVERHEAD_BYTES;
  const rings = new LastLines({
    ...OPTIONS,
    lastLines: 50,
    maxContainerBytes: containerOverheadBytes(50) + 3 * perLine,
  });
  for (let i = 1; i <= 5; i++) push(rings, "p", "main", i, String(i).repeat(100));
  assert.equal(all(rings, "p").length, 3);
  assert.equal(rings.takeTrimCounts().container_bytes, 2);
});

Deno.test("last lines over max_total_size shrink the largest rings first and spare a quiet one", () => {
  const rings = new LastLines({
    lastLines: 50,
    maxLineBytes: 1_000,
    maxContainerBytes: 50_000,
    maxTotalBytes: 20_000,
  });
  push(rings, "quiet", "main", 1, "my last words");
  for (let i = 0; i < 200; i++) push(rings, "chatty", "main", i, "z".repeat(500));
  assert.ok(rings.totalBytes <= 20_000, `${rings.totalBytes}`);
  assert.deepEqual(all(rings, "quiet"), ["my last words"]);
  assert.ok(rings.takeTrimCounts().total_bytes > 0);
});

Deno.test("last lines drop rings that received nothing for idle_ring", () => {
  const rings = new LastLines({ ...OPTIONS, idleRingMs: 1_000 });
  push(rings, "old", "main", 0, "a");
  push(rings, "new", "main", 900, "b");
  rings.sweep(1_500);
  assert.deepEqual(all(rings, "old"), []);
  assert.deepEqual(all(rings, "new"), ["b"]);
  assert.equal(rings.containers, 1);
  assert.equal(rings.totalBytes, containerOverheadBytes(OPTIONS.lastLines) + 1 + LINE_OVERHEAD_BYTES);
});

Deno.test("last lines stay inside every ceiling for any sequence of pushes (property)", () => {
  const push_ = fc.record({
    pod: fc.integer({ min: 0, max: 5 }),
    container: fc.constantFrom("a", "b"),
    size: fc.integer({ min: 0, max: 3_000 }),
  });
  let sawTotalTrim = false;
  assertProperty(
    fc.property(
      fc.array(push_, { minLength: 20, maxLength: 300 }),
      fc.integer({ min: 1, max: 20 }),
      (pushes, lastLines) => {
        const o = { lastLines, maxLineBytes: 1_000, maxContainerBytes: 8_000, maxTotalBytes: 15_000 };
        const rings = new LastLines(o);
        const model = new Map<string, string[]>();
        pushes.forEach((p, i) => {
          const body = `${i}:`.padEnd(p.size, "x");
          push(rings, `pod${p.pod}`, p.container, i, body);
          const key = `pod${p.pod}/${p.container}`;
          model.set(key, [...(model.get(key) ?? []), body.slice(0, 1_000)]);
          assert.ok(rings.totalBytes <= o.maxTotalBytes, "total ceiling");
        });
        for (let pod = 0; pod <= 5; pod++) {
          for (const container of ["a", "b"]) {
            const kept = rings.linesOf(`pod${pod}`, (l) => l.containerName === container).map((l) => l.body);
            assert.ok(kept.length <= lastLines);
            // Whatever is kept is the newest suffix of what was pushed, in order.
            const pushed = model.get(`pod${pod}/${container}`) ?? [];
            assert.deepEqual(kept, pushed.slice(pushed.length - kept.length));
            const bytes = kept.reduce((n, b) => n + String(b).length + LINE_OVERHEAD_BYTES, 0);
            assert.ok(
              bytes + containerOverheadBytes(OPTIONS.lastLines) <= o.maxContainerBytes || kept.length === 1,
            );
          }
        }
        if (rings.takeTrimCounts().total_bytes > 0) sawTotalTrim = true;
      },
    ),
    200,
  );
  assert.ok(sawTotalTrim, "the generator reached the overall ceiling at least once");
});

Deno.test("last lines hold 500 containers inside max_total_size and let go of what they dropped", () => {
  const maxTotalBytes = 8 * 1024 * 1024;
  const rings = new LastLines({
    lastLines: 50,
    maxLineBytes: 4096,
    maxContainerBytes: 64 * 1024,
    maxTotalBytes,
  });
  const before = Deno.memoryUsage();
  // 500 containers x 200 records x 4 KiB = 400 MiB pushed through rings that may keep 8 MiB.
  for (let round = 0; round < 200; round++) {
    for (let c = 0; c < 500; c++) push(rings, `pod-${c}`, "main", round, new Uint8Array(4096).fill(round));
    assert.ok(rings.totalBytes <= maxTotalBytes);
  }
  assert.equal(rings.containers, 500);
  const after = Deno.memoryUsage();
  const grownBytes = after.heapUsed + after.external - before.heapUsed - before.external;
  // Retaining what was pushed would be 400 MiB; what is kept is at most 8 MiB plus garbage not yet collected.
  assert.ok(grownBytes < 128 * 1024 * 1024, `grew ${grownBytes} bytes`);
});
