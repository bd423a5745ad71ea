import assert from "node:assert/strict";
import fc from "fast-check";
import { RecordAssembler } from "../../src/assemble/mod.ts";
import type { LogRecord, PodLogPath, RecordOrigin } from "../../src/record.ts";
import { assertProperty } from "../_helpers/property.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SCOPE = { name: "test", version: "0" };
const POD: PodLogPath = {
  path: "/p/ns_pod_uid/c/0.log",
  namespace: "ns",
  podName: "pod",
  podUid: "uid",
  containerName: "c",
  restartCount: 0,
  isStaticPod: false,
  containerKey: "ns_pod_uid/c",
};

function build(maxLogSizeBytes = 1 << 20) {
  const out: Array<{ record: LogRecord; origin: RecordOrigin }> = [];
  const resource = { attributes: { "k8s.pod.name": "pod" } };
  const assembler = new RecordAssembler({
    sink: { push: (record, origin) => out.push({ record, origin }) },
    enrichment: { resourceFor: () => resource, attribute: () => {} },
    scope: SCOPE,
    maxLogSizeBytes,
    includeFilePath: true,
    partialFlushTimeoutMs: 1000,
  });
  const file = assembler.open({ key: "1:2", path: POD.path, podPath: POD });
  return { out, assembler, file, resource };
}

function feed(file: ReturnType<typeof build>["file"], text: string, base = 0, nowMs = 5000): Uint8Array {
  const bytes = encoder.encode(text);
  file.lines(bytes, 0, bytes.length, base, nowMs);
  return bytes;
}

const cases: Array<{ name: string; input: string; want: Array<[string, number, number]> }> = [
  {
    name: "one full line",
    input: "2024-05-01T12:00:00Z stdout F hello\n",
    want: [["hello", 0, 36]],
  },
  {
    name: "P and F pieces with non-ASCII flags joined at byte offsets",
    input: "2024-05-01T12:00:00Z stdout P:ééé pieceA-\n2024-05-01T12:00:00Z stdout F:ééé pieceB\n",
    want: [["pieceA-pieceB", 0, 89]],
  },
  {
    name: "a malformed line shipped raw",
    input: "garbage\n2024-05-01T12:00:00Z stderr F x\n",
    want: [["garbage", 0, 8], ["x", 8, 40]],
  },
];

for (const { name, input, want } of cases) {
  Deno.test(`assembler turns ${name} into records with their origins`, () => {
    const { out, file } = build();
    feed(file, input);
    assert.deepEqual(
      out.map((
        { record, origin },
      ) => [decoder.decode(record.body as Uint8Array), origin.startOffset, origin.endOffset]),
      want,
    );
    for (const { origin } of out) assert.equal(origin.fileKey, "1:2");
  });
}

Deno.test("assembler bodies view the buffer the lines came in (no copy per line), exactly the body bytes", () => {
  const { out, file } = build();
  const bytes = feed(file, "2024-05-01T12:00:00Z stdout F abc\n2024-05-01T12:00:00Z stderr F de\n");
  const [first, second] = out.map((o) => o.record.body as Uint8Array);
  assert.equal(first.buffer, bytes.buffer);
  assert.equal(second.buffer, bytes.buffer);
  assert.deepEqual([decoder.decode(first), decoder.decode(second)], ["abc", "de"]);
  // The contract: the caller keeps the bytes until the turn ends; a reuse shows through.
  bytes.fill(0x78);
  assert.equal(decoder.decode(first), "xxx");
});

Deno.test("assembler stamps the observed time from the clock it is given and the CRI time as event time", () => {
  const { out, file } = build();
  feed(file, "2024-05-01T12:00:00.5Z stdout F a\n1969-12-31T23:59:59Z stdout F b\n", 0, 1_700_000_000_250);
  assert.deepEqual(out[0].record.hrTime, [1714564800, 500_000_000]);
  assert.deepEqual(out[0].record.hrTimeObserved, [1_700_000_000, 250_000_000]);
  assert.deepEqual(out[1].record.hrTime, [1_700_000_000, 250_000_000], "out of range: observed time only");
  assert.equal(out[1].record.attributes["log.parse_error"], "timestamp_out_of_range");
});

Deno.test("assembler keeps a pending P piece behind the frontier until its F piece", () => {
  const { out, file } = build();
  feed(file, "2024-05-01T12:00:00Z stdout P a\n", 100);
  assert.equal(out.length, 0);
  assert.equal(file.pendingStartOffset(), 100);
  feed(file, "2024-05-01T12:00:00Z stdout F b\n", 132);
  assert.equal(file.pendingStartOffset(), Infinity);
  assert.deepEqual([out[0].origin.startOffset, out[0].origin.endOffset], [100, 164]);
});

Deno.test("assembler cuts a long line at max_log_size on a character boundary and flags it", () => {
  const { out, file } = build(10);
  const head = encoder.encode("2024-05-01T12:00:00Z stdout F aaaaaaaaaé-rest");
  file.longLine(head, head.length + 1000, 0, head.length + 1001, 0);
  assert.equal(decoder.decode(out[0].record.body as Uint8Array), "aaaaaaaaa");
  assert.equal(out[0].record.attributes["log.truncated"], true);
  assert.equal(out[0].record.attributes["log.iostream"], "stdout");
  assert.equal(out[0].origin.endOffset, head.length + 1001);
});

Deno.test("assembler covers every byte of any run of lines exactly once with its origins", () => {
  assertProperty(
    fc.property(
      fc.array(
        fc.record({
          tag: fc.constantFrom("F", "P", "P:é", "F:x"),
          stream: fc.constantFrom("stdout", "stderr"),
          body: fc.string({ maxLength: 20 }).map((s) => s.replaceAll("\n", " ")),
        }),
        { maxLength: 30 },
      ),
      (lines) => {
        const { out, file } = build();
        const text = lines.map((l) => `2024-05-01T12:00:00Z ${l.stream} ${l.tag} ${l.body}\n`).join("");
        const bytes = feed(file, text);
        file.flush("shutdown", 0);
        let covered = 0;
        for (const { origin } of out) covered += origin.endOffset - origin.startOffset;
        // Interleaved streams make P..F records overlap in range; each line is still in one record.
        assert.ok(covered >= bytes.length || lines.length === 0);
        for (const { origin } of out) assert.ok(origin.startOffset < origin.endOffset);
      },
    ),
  );
});
