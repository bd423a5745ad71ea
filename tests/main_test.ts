import assert from "node:assert/strict";
import { startOtlpSink } from "./_fakes/otlp_sink.ts";
import { agentPermissionFlags, freePort, readMetric, spawnAgent, waitFor } from "./_helpers/agent_process.ts";
import { ContainerLog, fakeUid } from "./_helpers/kubelet_tree.ts";

const REPO_ROOT = new URL("../", import.meta.url).pathname;

async function runMain(
  args: string[],
  writePaths: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...agentPermissionFlags(["/tmp"], writePaths), "src/main.ts", ...args],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("main --check-config prints ok and exits 0 for a valid file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/c.yaml`, "exporter:\n  endpoint: http://127.0.0.1:4318\n");
    const r = await runMain(["--check-config", `${dir}/c.yaml`]);
    assert.equal(r.stdout.trim(), "ok");
    assert.equal(r.code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main --check-config lists every problem with its key path and exits 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/c.yaml`,
      "max_log_size: 12 parsecs\nexporter:\n  endpointt: x\nbatch:\n  max_delay: -1s\nstart_at: middle\n",
    );
    const r = await runMain(["--check-config", `${dir}/c.yaml`]);
    assert.equal(r.code, 2);
    const lines = r.stdout.trim().split("\n");
    assert.ok(lines.some((l) => l.startsWith("max_log_size:")), r.stdout);
    assert.ok(
      lines.some((l) => l.startsWith("exporter.endpointt:") && l.includes("exporter.endpoint")),
      r.stdout,
    );
    assert.ok(lines.some((l) => l.startsWith("batch.max_delay:")), r.stdout);
    assert.ok(lines.some((l) => l.startsWith("start_at:")), r.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main --version and --help exit 0; an unknown flag exits 2", async () => {
  const v = await runMain(["--version"]);
  assert.match(v.stdout, /^containerstdout \d+\.\d+\.\d+/);
  assert.equal(v.code, 0);
  const h = await runMain(["--help"]);
  assert.match(h.stdout, /--check-config/);
  assert.equal(h.code, 0);
  const bad = await runMain(["--frobnicate"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /frobnicate/);
});

Deno.test("main exits 1 with a clear message when the cursor store cannot be opened", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Allowed by the permission set (granted below), but a regular file sits where the directory should be.
    await Deno.writeTextFile(`${dir}/blocker`, "");
    await Deno.writeTextFile(
      `${dir}/c.yaml`,
      `cursor:\n  path: ${dir}/blocker/cursor.kv\ntelemetry:\n  listen: ""\n`,
    );
    const r = await runMain(["--config", `${dir}/c.yaml`], [dir]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes(`Cannot open cursor store: path ${dir}/blocker/cursor.kv`), r.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "agent killed with SIGKILL and restarted loses nothing, including a rotation while it was down",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "cso-kill-" });
    await using sink = await startOtlpSink();
    const root = `${dir}/pods`;
    const logs = [0, 1].map((i) =>
      new ContainerLog(root, {
        namespace: "ml",
        pod: `trainer-${i}`,
        uid: fakeUid(i + 1),
        container: "worker",
      })
    );
    const port = freePort();
    await Deno.writeTextFile(
      `${dir}/config.yaml`,
      [
        `include: ["${root}/*/*/*.log"]`,
        `cursor: { path: "${dir}/cursor/cursor.kv", flush_interval: 200ms }`,
        `exporter: { endpoint: "${sink.url}" }`,
        `batch: { max_delay: 50ms, max_records: 200 }`,
        `telemetry: { listen: "127.0.0.1:${port}" }`,
        `k8s: { mode: "off" }`,
        `tail: { rescan_interval: 200ms }`,
      ].join("\n"),
    );
    const seq = [0, 0];
    const write = (n: number): void => {
      for (let k = 0; k < n; k++) {
        for (const [i, log] of logs.entries()) {
          const s = seq[i]++;
          log.write(
            s % 7 === 0 ? "stderr" : "stdout",
            `c${i}-${s} ${"p".repeat(s % 90)}`,
            s % 11 === 0 ? [5, 20] : [],
          );
        }
      }
    };
    const spawn = () =>
      spawnAgent({ configPath: `${dir}/config.yaml`, readPaths: [dir], writePaths: [`${dir}/cursor`] });
    try {
      let agent = spawn();
      let writing = true;
      const writer = (async () => {
        while (writing) {
          write(20);
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      await waitFor(() => sink.records.length > 3000, { timeoutMs: 20_000 });
      agent.kill("SIGKILL");
      await agent.exited;
      writing = false;
      await writer;
      // While the agent is down: more lines, then kubelet renames 0.log and starts a new one.
      write(300);
      for (const log of logs) log.rotate();
      write(300);
      agent = spawn();
      write(500);
      for (const log of logs) log.close();
      const want = seq[0] + seq[1];
      await waitFor(() => new Set(sink.records.map((r) => r.record.body)).size >= want, {
        timeoutMs: 30_000,
        message: () => `${new Set(sink.records.map((r) => r.record.body)).size} of ${want} unique records`,
      });
      const bodies = sink.records.map((r) => String(r.record.body));
      const unique = new Set(bodies);
      for (const [i, n] of seq.entries()) {
        for (let s = 0; s < n; s++) {
          assert.ok(unique.has(`c${i}-${s} ${"p".repeat(s % 90)}`), `c${i}-${s} lost`);
        }
      }
      const duplicates = bodies.length - unique.size;
      console.log(
        `kill -9 test: ${want} records written, ${bodies.length} received, ${duplicates} duplicates`,
      );
      assert.ok(await readMetric(`http://127.0.0.1:${port}`, "containerstdout_rotations_total") >= 2);
      assert.equal(await agent.stop(), 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("main --check-config rejects a rank pattern RE2 cannot compile (lookahead) and an unknown rank source", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/c.yaml`,
      'attribution:\n  process_rank_regex: "^(?=\\\\[)\\\\[rank(?P<rank>\\\\d+)\\\\]"\n  rank_source: ["body", "env:RANK"]\n',
    );
    const r = await runMain(["--check-config", `${dir}/c.yaml`]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /^attribution\.process_rank_regex: Invalid RE2 pattern/m);
    await Deno.writeTextFile(`${dir}/d.yaml`, 'attribution:\n  rank_source: ["body", "hostname"]\n');
    const d = await runMain(["--check-config", `${dir}/d.yaml`]);
    assert.equal(d.code, 2);
    assert.match(d.stdout, /^attribution\.rank_source/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main --check-config rejects a dataloader pattern RE2 cannot compile and one without a timing group", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/c.yaml`,
      "dataloader:\n  patterns:\n" +
        '    - "wait=(?P<data_time_s>\\\\d+)"\n' +
        '    - "(?=x)step=(?P<iter_time_s>\\\\d+)"\n' +
        '    - "loss=(?P<loss>\\\\d+)"\n',
    );
    const r = await runMain(["--check-config", `${dir}/c.yaml`]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /^dataloader\.patterns\[2\]: Pattern needs a named group data_time_s or iter_time_s/m,
    );
    await Deno.writeTextFile(
      `${dir}/d.yaml`,
      'dataloader:\n  patterns: ["wait=(?P<data_time_s>\\\\d+)", "(?=x)step=(?P<iter_time_s>\\\\d+)"]\n',
    );
    const d = await runMain(["--check-config", `${dir}/d.yaml`]);
    assert.equal(d.code, 2, d.stdout + d.stderr);
    assert.match(d.stdout, /^dataloader\.patterns\[1\]: Invalid RE2 pattern/m);
    assert.doesNotMatch(d.stdout, /patterns\[0\]/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
