import assert from "node:assert/strict";
import { type Component, type ComponentHealth, Registry } from "../../src/lifecycle/mod.ts";
import { Logger } from "../../src/telemetry/log.ts";

/** A component that records its calls in a shared journal. */
class JournalComponent implements Component {
  readonly name: string;
  #journal: string[];
  failStart: Error | string | undefined;
  failStop: Error | undefined;
  reportedHealth: ComponentHealth = { isHealthy: true, detail: "ok" };
  startSignal: AbortSignal | undefined;
  stops = 0;

  constructor(name: string, journal: string[]) {
    this.name = name;
    this.#journal = journal;
  }

  async start(signal: AbortSignal): Promise<void> {
    this.startSignal = signal;
    // A real await, so a start that is not awaited in order would show up in the journal.
    await Promise.resolve();
    if (this.failStart !== undefined) {
      this.#journal.push(`start-failed ${this.name}`);
      throw this.failStart;
    }
    this.#journal.push(`start ${this.name}`);
  }

  async stop(): Promise<void> {
    this.stops++;
    await Promise.resolve();
    this.#journal.push(`stop ${this.name}`);
    if (this.failStop !== undefined) throw this.failStop;
  }

  health(): ComponentHealth {
    return this.reportedHealth;
  }
}

interface Setup {
  registry: Registry;
  journal: string[];
  logs: Array<Record<string, unknown>>;
  components: JournalComponent[];
}

function setup(names: string[]): Setup {
  const journal: string[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const registry = new Registry({
    logger: new Logger({ level: "debug", write: (l) => logs.push(JSON.parse(l)) }),
  });
  const components = names.map((n) => new JournalComponent(n, journal));
  for (const c of components) registry.add(c);
  return { registry, journal, logs, components };
}

Deno.test("registry starts components in the order they were added and stops them in reverse", async () => {
  const { registry, journal } = setup(["kv", "exporter", "tailer", "telemetry"]);
  await registry.start();
  await registry.stop();
  assert.deepEqual(journal, [
    "start kv",
    "start exporter",
    "start tailer",
    "start telemetry",
    "stop telemetry",
    "stop tailer",
    "stop exporter",
    "stop kv",
  ]);
});

interface FailCase {
  name: string;
  thrown: Error | string;
  wantMessage: string;
}

const FAIL_CASES: FailCase[] = [
  {
    name: "an Error",
    thrown: new Error("Cannot open cursor store: path /x is read-only"),
    wantMessage: "Cannot start tailer: Cannot open cursor store: path /x is read-only",
  },
  { name: "a thrown string", thrown: "port in use", wantMessage: "Cannot start tailer: port in use" },
];

for (const { name, thrown, wantMessage } of FAIL_CASES) {
  Deno.test(`registry stops already started components when a start throws ${name}, and rethrows`, async () => {
    const { registry, journal, components } = setup(["kv", "exporter", "tailer", "telemetry"]);
    components[2].failStart = thrown;
    await assert.rejects(() => registry.start(), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.equal(err.message, wantMessage);
      assert.equal(err.cause, thrown);
      return true;
    });
    assert.deepEqual(journal, [
      "start kv",
      "start exporter",
      "start-failed tailer",
      "stop exporter",
      "stop kv",
    ]);
    assert.equal(components[3].startSignal, undefined, "components after the failing one never start");
    assert.equal(components[2].stops, 0, "the failing component is not stopped");
    assert.ok(components[0].startSignal?.aborted, "the shared signal aborts on stop");
  });
}

Deno.test("registry stop is idempotent, also when called concurrently", async () => {
  const { registry, journal, components } = setup(["a", "b"]);
  await registry.start();
  await Promise.all([registry.stop(), registry.stop()]);
  await registry.stop();
  assert.deepEqual(components.map((c) => c.stops), [1, 1]);
  assert.deepEqual(journal, ["start a", "start b", "stop b", "stop a"]);
});

Deno.test("registry stop before start stops nothing", async () => {
  const { registry, components } = setup(["a"]);
  await registry.stop();
  assert.equal(components[0].stops, 0);
});

Deno.test("registry keeps stopping the others when one stop throws, and logs it", async () => {
  const { registry, journal, logs, components } = setup(["a", "b", "c"]);
  components[1].failStop = new Error("Flush failed: endpoint unreachable");
  await registry.start();
  await registry.stop();
  assert.deepEqual(journal.slice(3), ["stop c", "stop b", "stop a"]);
  const errors = logs.filter((l) => l.level === "error");
  assert.equal(errors.length, 1);
  assert.equal(errors[0].component, "b");
});

interface HealthCase {
  name: string;
  started: boolean;
  healths: ComponentHealth[];
  want: { isHealthy: boolean; details: string[] };
}

const HEALTH_CASES: HealthCase[] = [
  {
    name: "healthy when every started component is",
    started: true,
    healths: [{ isHealthy: true, detail: "ok" }, { isHealthy: true, detail: "watching" }],
    want: { isHealthy: true, details: ["ok", "watching"] },
  },
  {
    name: "unhealthy when one component is",
    started: true,
    healths: [{ isHealthy: true, detail: "ok" }, { isHealthy: false, detail: "informer not synced" }],
    want: { isHealthy: false, details: ["ok", "informer not synced"] },
  },
  {
    name: "unhealthy before start, with every component not started",
    started: false,
    healths: [{ isHealthy: true, detail: "ok" }, { isHealthy: true, detail: "ok" }],
    want: { isHealthy: false, details: ["not started", "not started"] },
  },
];

for (const { name, started, healths, want } of HEALTH_CASES) {
  Deno.test(`registry health is ${name}`, async () => {
    const { registry, components } = setup(["x", "y"]);
    healths.forEach((h, i) => components[i].reportedHealth = h);
    if (started) await registry.start();
    const health = registry.health();
    assert.equal(health.isHealthy, want.isHealthy);
    assert.deepEqual(Object.keys(health.components), ["x", "y"]);
    assert.deepEqual(Object.values(health.components).map((h) => h.detail), want.details);
    await registry.stop();
  });
}

Deno.test("registry health after stop reports every component not started", async () => {
  const { registry } = setup(["x"]);
  await registry.start();
  assert.equal(registry.health().isHealthy, true);
  await registry.stop();
  assert.deepEqual(registry.health(), {
    isHealthy: false,
    components: { x: { isHealthy: false, detail: "not started" } },
  });
});
