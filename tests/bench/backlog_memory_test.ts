import assert from "node:assert/strict";
import { runBacklog } from "../../bench/e2e/modes/backlog.ts";
import { parseCli } from "../../bench/e2e/run.ts";

// The small version of the backlog bench: ~100 MB on disk, a 4 MiB memory_limit, an endpoint that holds
// each answer for the first seconds. The agent's own accounting is read from /metrics while it runs.
Deno.test("agent reads a 100 MB backlog inside a 4 MiB memory_limit behind a slow endpoint and loses nothing", async () => {
  const { options } = parseCli([
    "backlog",
    "--lines",
    "600_000",
    "--files",
    "4",
    "--outage",
    "2",
    "--memory-limit",
    "4MiB",
  ]);
  const log: string[] = [];
  const result = await runBacklog({ ...options, log: (line) => log.push(line) });
  const r = result.receiver;
  const m = result.metrics;
  const detail = JSON.stringify({ receiver: r, metrics: m, log, tail: result.agentLogTail });
  assert.ok((result.params.bytes as number) > 95 * 1024 * 1024, `the generator wrote ~100 MB: ${detail}`);
  assert.equal(r.matched, r.expected, detail);
  assert.equal(r.lost, 0, detail);
  assert.equal(r.duplicated, 0, detail);
  assert.ok((m.backpressurePauses as number) >= 1, `reading paused at the ceiling: ${detail}`);
  // The ceiling is checked before each read, so the records of one read (tail.read_buffer_size, 1 MiB of
  // lines, accounted with a fixed per-record overhead: up to ~2 MiB) may pass it.
  assert.ok((m.accountedPeakMiB as number) > 0, `/metrics was scraped: ${detail}`);
  assert.ok((m.accountedPeakMiB as number) <= 4 + 2, `accounted bytes stay within the limit: ${detail}`);
  assert.deepEqual(result.agentExitCodes, [0], detail);
});
