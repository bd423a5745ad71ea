import assert from "node:assert/strict";
import { acquireCursorLock, CursorLockError, cursorLockPath } from "../../src/cursor/mod.ts";
import { startOtlpSink } from "../_fakes/otlp_sink.ts";
import { freePort, readMetric, spawnAgent, waitFor } from "../_helpers/agent_process.ts";
import { ContainerLog, fakeUid } from "../_helpers/kubelet_tree.ts";

/** A temp directory removed on dispose. */
async function tempDir(prefix: string): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

Deno.test("cursor lock is taken at once when free and written beside the store", async () => {
  await using dir = await tempDir("cursor_lock_");
  const cursorPath = `${dir.path}/state/cursor.kv`;
  using lock = await acquireCursorLock({ cursorPath, holder: { pid: 42, hostname: "node-a" } });
  assert.equal(lock.lockPath, `${dir.path}/state/cursor.kv.lock`);
  assert.equal(cursorLockPath(cursorPath), lock.lockPath);
  const note = JSON.parse(await Deno.readTextFile(lock.lockPath));
  assert.equal(note.pid, 42);
  assert.equal(note.hostname, "node-a");
});

Deno.test("cursor lock second taker waits, reports the wait once, and gets the lock when the first releases", async () => {
  await using dir = await tempDir("cursor_lock_");
  const cursorPath = `${dir.path}/cursor.kv`;
  const first = await acquireCursorLock({ cursorPath, holder: { pid: 1, hostname: "old-pod" } });
  const waits: unknown[] = [];
  const { promise: isWaiting, resolve: markWaiting } = Promise.withResolvers<void>();
  let isSecondHeld = false;
  const second = acquireCursorLock({
    cursorPath,
    pollIntervalMs: 5,
    holder: { pid: 2, hostname: "new-pod" },
    onWaiting: (info) => {
      waits.push(info.holder);
      markWaiting();
    },
  }).then((lock) => {
    isSecondHeld = true;
    return lock;
  });
  await isWaiting;
  assert.equal(isSecondHeld, false);
  first.release();
  first.release(); // idempotent
  using lock = await second;
  assert.deepEqual(waits, [{
    pid: 1,
    hostname: "old-pod",
    sinceMs: (waits[0] as { sinceMs: number }).sinceMs,
  }]);
  assert.equal(JSON.parse(await Deno.readTextFile(lock.lockPath)).hostname, "new-pod");
});

Deno.test("cursor lock wait ends with the abort reason when the signal aborts, and leaves the lock alone", async () => {
  await using dir = await tempDir("cursor_lock_");
  const cursorPath = `${dir.path}/cursor.kv`;
  using _first = await acquireCursorLock({ cursorPath });
  const abort = new AbortController();
  const waiting = acquireCursorLock({
    cursorPath,
    signal: abort.signal,
    pollIntervalMs: 5,
    onWaiting: () => abort.abort(new Error("SIGTERM")),
  });
  await assert.rejects(waiting, { message: "SIGTERM" });
});

Deno.test("cursor lock held by a process that is killed with SIGKILL is free again", async () => {
  await using dir = await tempDir("cursor_lock_");
  const cursorPath = `${dir.path}/cursor.kv`;
  const moduleUrl = new URL("../../src/cursor/cursor_lock.ts", import.meta.url).href;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const { acquireCursorLock } = await import(${JSON.stringify(moduleUrl)});` +
      `await acquireCursorLock({ cursorPath: ${JSON.stringify(cursorPath)} });` +
      `console.log("held"); await new Promise(() => setInterval(() => {}, 1000));`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  assert.equal(new TextDecoder().decode(value).trim(), "held");
  let waitCount = 0;
  const taking = acquireCursorLock({ cursorPath, pollIntervalMs: 5, onWaiting: () => waitCount++ });
  await waitFor(() => waitCount === 1);
  child.kill("SIGKILL");
  await child.status;
  reader.releaseLock();
  await child.stdout.cancel();
  using _lock = await taking;
});

Deno.test("cursor lock in a directory that cannot be created fails with CursorLockError naming the path", async () => {
  await assert.rejects(
    acquireCursorLock({ cursorPath: "/proc/containerstdout/cursor.kv" }),
    (err: unknown) =>
      err instanceof CursorLockError &&
      err.message.startsWith("Cannot open cursor lock: path /proc/containerstdout/cursor.kv.lock"),
  );
});

// ---------------------------------------------------------------------------------------------------------
// Two agent processes on one cursor store: a DaemonSet rolling update with maxSurge.

interface AgentProbe {
  base: string;
}

async function readyStatus(probe: AgentProbe): Promise<number> {
  try {
    const response = await fetch(`${probe.base}/readyz`);
    await response.body?.cancel();
    return response.status;
  } catch {
    return 0; // not listening yet
  }
}

async function metric(probe: AgentProbe, series: string): Promise<number | null> {
  try {
    return await readMetric(probe.base, series);
  } catch {
    return null;
  }
}

Deno.test({
  name:
    "second agent on one cursor store waits not ready until the first stops, then resumes: every line once",
  async fn() {
    await using dir = await tempDir("cso-lock-");
    await using sink = await startOtlpSink();
    const root = `${dir.path}/pods`;
    const logs = [0, 1].map((i) =>
      new ContainerLog(root, {
        namespace: "ml",
        pod: `trainer-${i}`,
        uid: fakeUid(i + 1),
        container: "worker",
      })
    );
    let written = 0;
    const write = (n: number): void => {
      for (let k = 0; k < n; k++) {
        for (const [i, log] of logs.entries()) {
          log.write("stdout", `c${i}-${written} ${"x".repeat(written % 50)}`);
        }
        written++;
      }
    };
    const configFor = async (name: string, port: number): Promise<string> => {
      const path = `${dir.path}/${name}.yaml`;
      await Deno.writeTextFile(
        path,
        [
          `include: ["${root}/*/*/*.log"]`,
          `cursor: { path: "${dir.path}/cursor/cursor.kv", flush_interval: 100ms }`,
          `exporter: { endpoint: "${sink.url}" }`,
          `batch: { max_delay: 20ms }`,
          `telemetry: { listen: "127.0.0.1:${port}" }`,
          `k8s: { mode: "off" }`,
          `tail: { rescan_interval: 100ms }`,
        ].join("\n"),
      );
      return path;
    };
    const spawn = (configPath: string) =>
      spawnAgent({ configPath, readPaths: [dir.path], writePaths: [`${dir.path}/cursor`] });
    const unique = (): number => new Set(sink.records.map((r) => String(r.record.body))).size;

    const portA = freePort();
    const a = { base: `http://127.0.0.1:${portA}` };
    await using first = spawn(await configFor("a", portA));
    write(200);
    await waitFor(() => unique() >= 400, { timeoutMs: 30_000, message: () => `${unique()} of 400` });
    assert.equal(await readyStatus(a), 200);

    const portB = freePort();
    const b = { base: `http://127.0.0.1:${portB}` };
    await using second = spawn(await configFor("b", portB));
    await waitFor(async () => (await metric(b, "containerstdout_cursor_lock_waiting")) === 1, {
      timeoutMs: 30_000,
      message: () => second.logLines.join("\n"),
    });
    assert.equal(await readyStatus(b), 503);
    const readyz = await (await fetch(`${b.base}/readyz`)).json();
    assert.match(readyz.components.cursor_lock.detail, /waiting for the cursor lock/);

    // The first keeps shipping while the second waits; a writer keeps going through the hand-over.
    write(200);
    await waitFor(() => unique() >= 800, { timeoutMs: 30_000, message: () => `${unique()} of 800` });
    let isWriting = true;
    const writer = (async () => {
      while (isWriting) {
        write(5);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    assert.equal(await first.stop(), 0);
    await waitFor(async () => (await readyStatus(b)) === 200, {
      timeoutMs: 30_000,
      message: () => second.logLines.join("\n"),
    });
    assert.equal(await metric(b, "containerstdout_cursor_lock_waiting"), 0);
    isWriting = false;
    await writer;
    write(100);
    for (const log of logs) log.close();
    const want = written * logs.length;
    await waitFor(() => unique() >= want, { timeoutMs: 30_000, message: () => `${unique()} of ${want}` });
    assert.equal(await second.stop(), 0);

    const bodies = sink.records.map((r) => String(r.record.body));
    assert.equal(new Set(bodies).size, want, "every written line arrived");
    assert.equal(bodies.length, want, `${bodies.length - want} lines arrived twice`);
    const waitLogs = second.logLines.filter((l) => l.includes("Waiting for the cursor lock"));
    assert.equal(waitLogs.length, 1, "the wait is logged once");
    assert.ok(second.logLines.some((l) => l.includes("Cursor lock taken")));
  },
});
