import assert from "node:assert/strict";
import { runIngest } from "../../bench/e2e/modes/ingest.ts";
import { parseCli } from "../../bench/e2e/run.ts";

Deno.test("the ingest bench delivers every generated record exactly once through the real agent", async () => {
  const { options } = parseCli(["ingest", "--quick"]);
  const log: string[] = [];
  const result = await runIngest({ ...options, log: (line) => log.push(line) });
  const r = result.receiver;
  const detail = JSON.stringify({
    receiver: r,
    examples: result.problemExamples,
    log,
    tail: result.agentLogTail,
  });
  assert.ok(r.expected > 15_000, detail);
  assert.equal(r.matched, r.expected, detail);
  assert.equal(r.lost, 0, detail);
  assert.equal(r.duplicated, 0, detail);
  assert.equal(r.unexpected, 0, detail);
  assert.equal(r.resourceMismatch, 0, detail);
  assert.deepEqual(result.agentExitCodes, [0], detail);
  assert.ok(result.metrics.recordsPerCpuSec > 0 && result.metrics.peakRssMiB > 0, detail);
});

Deno.test("the bench command line starts from the target scenario and --quick shrinks it", () => {
  const cases = [
    { args: ["ingest"], want: { lines: 2_000_000, files: [80] } },
    { args: ["ingest", "--quick"], want: { lines: 20_000, files: [8] } },
    { args: ["ingest", "--quick", "--lines", "5_000"], want: { lines: 5_000, files: [8] } },
    { args: ["steady"], want: { linesPerSec: 5000, files: [20], durationSec: 30, rotateBytes: 524288 } },
    { args: ["idle"], want: { files: [200, 1000], durationSec: 180 } },
    { args: ["idle", "--files", "300"], want: { files: [300] } },
  ];
  for (const { args, want } of cases) {
    const { options } = parseCli(args);
    const got = Object.fromEntries(Object.keys(want).map((k) => [k, options[k as keyof typeof options]]));
    assert.deepEqual(got, want, args.join(" "));
  }
  assert.throws(() => parseCli(["sprint"]), /Unknown mode: sprint/);
  assert.throws(() => parseCli(["steady", "--rate", "fast"]), /Invalid --rate: fast/);
});
