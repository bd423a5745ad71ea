/**
 * Runs the agent in-process against a temp kubelet tree and a fake OTLP sink, for pipeline tests that
 * need to interleave file operations with the agent's reads deterministically.
 *
 * @module
 */

import { type AgentOptions, type RunningAgent, startAgent } from "../../src/agent.ts";
import { validateConfig } from "../../src/config/mod.ts";
import { Logger } from "../../src/telemetry/log.ts";
import { type OtlpSink, type SinkMode, startOtlpSink } from "../_fakes/otlp_sink.ts";

/** Options for {@linkcode startHarness}. */
export interface HarnessOptions {
  /** Raw config overrides (YAML-shaped: snake_case keys). */
  config?: Record<string, unknown>;
  sinkMode?: SinkMode;
  /** Reuse a temp dir (restart tests). */
  dir?: string;
  /** An open KV for cursors (the test keeps ownership). */
  kv?: Deno.Kv;
  /** Reuse a sink (restart tests). */
  sink?: OtlpSink;
  /** The agent's assembler seam. */
  assembler?: AgentOptions["assembler"];
  /** The read loop's per-file gate. */
  readGate?: AgentOptions["readGate"];
}

/** A running in-process agent with its temp dir and sink. */
export interface Harness extends AsyncDisposable {
  readonly dir: string;
  readonly root: string;
  readonly sink: OtlpSink;
  readonly agent: RunningAgent;
  readonly logs: string[];
  /** Stops the agent (keeps dir and sink). */
  stopAgent(): Promise<void>;
}

/** Starts an agent on `<dir>/pods` with fast test timings; `await using` cleans everything up. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "cso-test-" });
  const root = `${dir}/pods`;
  await Deno.mkdir(root, { recursive: true });
  const ownsSink = options.sink === undefined;
  const sink = options.sink ?? await startOtlpSink({ mode: options.sinkMode });
  const raw = deepMerge({
    include: [`${root}/*/*/*.log`],
    partial_flush_timeout: "300ms",
    cursor: { path: `${dir}/cursor/cursor.kv`, flush_interval: "100ms" },
    exporter: {
      endpoint: sink.url,
      retry: { initial_interval: "50ms", max_interval: "500ms" },
      timeout: "2s",
    },
    batch: { max_delay: "50ms" },
    telemetry: { listen: "" },
    k8s: { mode: "off" },
    tail: { rescan_interval: "200ms", rotate_wait: "300ms" },
    shutdown_timeout: "2s",
  }, options.config ?? {});
  const result = validateConfig(raw, { env: () => undefined });
  if (!result.ok) throw new Error(`Bad test config: ${JSON.stringify(result.errors)}`);
  const logs: string[] = [];
  const agent = await startAgent({
    config: result.value,
    logger: new Logger({ level: "debug", write: (line) => logs.push(line) }),
    env: () => undefined,
    kv: options.kv,
    assembler: options.assembler,
    readGate: options.readGate,
  });
  let isStopped = false;
  const stopAgent = async (): Promise<void> => {
    if (isStopped) return;
    isStopped = true;
    await agent.stop();
  };
  return {
    dir,
    root,
    sink,
    agent,
    logs,
    stopAgent,
    async [Symbol.asyncDispose]() {
      await stopAgent();
      if (ownsSink) await sink.close();
      if (options.dir === undefined) await Deno.remove(dir, { recursive: true });
    },
  };
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Bodies the sink received, per `log.file.path` + stream, in arrival order. */
export function bodiesByStream(sink: OtlpSink): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of sink.records) {
    const key = `${r.record.attributes["log.file.path"]}|${r.record.attributes["log.iostream"]}`;
    let list = out.get(key);
    if (list === undefined) out.set(key, list = []);
    list.push(String(r.record.body));
  }
  return out;
}
