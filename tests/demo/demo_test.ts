import assert from "node:assert/strict";

const REPO_ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("demo runs end to end: per-rank input-bound ratios, nothing lost, agent exits cleanly", async () => {
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
  assert.match(text, /written=(\d+) received=\1 lost=0 duplicates=0/);
});
