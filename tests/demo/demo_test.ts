import assert from "node:assert/strict";

const REPO_ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("demo runs end to end: per-rank input-bound ratios, an eviction record with its last lines, nothing lost", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "src/demo/demo.ts", "--seconds", "4"],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, text);
  assert.match(
    text,
    /rank 3: steps=\d+ mean data_time=\d+\.\d ms input-bound ratio=0\.7\d {2}<- input-bound/,
  );
  assert.match(text, /rank 0: steps=\d+ .* input-bound ratio=0\.0\d$/m);
  assert.match(text, /evicted llama-ft-worker-1 \(rank 1\)/);
  assert.match(text, /eviction record: event_name=k8s\.pod\.evicted severity=WARN/);
  assert.match(text, /k8s\.pod\.last_lines: \d+ lines, the last ones:\n {4}\S+ trainer stdout: /);
  assert.match(text, /written=(\d+) received=\1 lost=0 duplicates=0/);
});
