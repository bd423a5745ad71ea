/**
 * Builds the agent's components from a validated config and owns their life: the only place that
 * wires stages together (main.ts parses flags and signals; this file connects the parts).
 *
 * @module
 */

import process from "node:process";
import { dirname } from "node:path";
import denoJson from "../deno.json" with { type: "json" };
import { type Assembler, RecordAssembler, type RecordAssemblerOptions } from "./assemble/mod.ts";
import type { Config } from "./config/mod.ts";
import { acquireCursorLock, type CursorLock, CursorStore } from "./cursor/mod.ts";
import { Discovery } from "./discovery/mod.ts";
import { EmittedKeyStore, EvictionJoin, EvictionStage } from "./evict/mod.ts";
import { buildEnrichment } from "./enrich/mod.ts";
import { DataloaderExtractor, loadRe2Engine } from "./extract/mod.ts";
import { Batcher } from "./export/batcher.ts";
import { OtlpExporter } from "./export/mod.ts";
import { LossLedger } from "./ledger/mod.ts";
import { buildEgressBudgets, RATE_LIMIT_DROP_REASON } from "./limit/mod.ts";
import { type ComponentHealth, Registry } from "./lifecycle/mod.ts";
import { Progress } from "./progress/mod.ts";
import { type InstrumentationScope, ReadTurns, type RecordSink } from "./record.ts";
import { buildSignalStages } from "./signals/mod.ts";
import { type ReadGate, Tailer } from "./tailer/mod.ts";
import { type AgentMetrics, createAgentMetrics } from "./telemetry/agent_metrics.ts";
import { TelemetryServer } from "./telemetry/http.ts";
import { KindTracker } from "./telemetry/kinds.ts";
import type { Logger } from "./telemetry/log.ts";
import { MetricsRegistry } from "./telemetry/metrics.ts";

/** The agent's version, from deno.json. */
export const VERSION: string = denoJson.version;

/** Options for {@linkcode startAgent}. */
export interface AgentOptions {
  config: Config;
  logger: Logger;
  /** Reads an environment variable (only what Kubernetes injects). */
  env: (name: string) => string | undefined;
  /** An open cursor KV to use instead of opening `cursor.path` (the caller keeps ownership). */
  kv?: Deno.Kv;
  /** Called with the telemetry listener's bound address. */
  onTelemetryListen?: (address: { hostname: string; port: number }) => void;
  /** Aborts start-up while it waits for the cursor store lock (SIGTERM); start then rejects. */
  signal?: AbortSignal;
  /**
   * Builds the record assembler from its options (default: {@linkcode RecordAssembler}). The seam to
   * run the read loop with another assembler, e.g. one that throws for one file (quarantine test).
   */
  assembler?: (options: RecordAssemblerOptions) => Assembler;
  /** Per-file read gate for the read loop (the limiter's delay mode, issue 11). */
  readGate?: ReadGate;
}

/** A running agent. */
export interface RunningAgent {
  readonly registry: Registry;
  readonly metrics: AgentMetrics;
  /** The tracked files as `/status` shows them. */
  snapshot(): ReturnType<Tailer["snapshot"]>;
  /** Flushes, drains exports up to `shutdown_timeout`, commits cursors, closes everything. Idempotent. */
  stop(): Promise<void>;
}

/** Error raised when a resource the agent needs cannot be opened at startup. */
export class StartupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StartupError";
  }
}

// Waits for the cursor store lock (issue 8, defect 6); `setWait` feeds /readyz while waiting.
async function holdCursorLock(
  cursorPath: string,
  logger: Logger,
  metrics: AgentMetrics,
  signal: AbortSignal | undefined,
  setWait: (health: ComponentHealth | null) => void,
): Promise<CursorLock> {
  let hasWaited = false;
  try {
    const lock = await acquireCursorLock({
      cursorPath,
      signal,
      onWaiting: ({ lockPath, holder }) => {
        hasWaited = true;
        metrics.cursorLockWaiting.set(1);
        setWait({ isHealthy: false, detail: `waiting for the cursor lock ${lockPath}` });
        logger.warn("Waiting for the cursor lock: another agent uses this cursor store", {
          lockPath,
          holder,
        });
      },
    });
    if (hasWaited) logger.info("Cursor lock taken", { lockPath: lock.lockPath, waitedMs: lock.waitedMs });
    return lock;
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new StartupError(`Cannot open cursor store: path ${cursorPath}: ${(err as Error).message}`, {
      cause: err,
    });
  } finally {
    metrics.cursorLockWaiting.set(0);
    setWait(null);
  }
}

// Both gates must open: the longer wait wins.
function combineReadGates(a: ReadGate | undefined, b: ReadGate | undefined): ReadGate | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  return (origin, nowMs) => Math.max(a(origin, nowMs), b(origin, nowMs));
}

async function openCursorKv(path: string): Promise<Deno.Kv> {
  try {
    await Deno.mkdir(dirname(path), { recursive: true });
    return await Deno.openKv(path);
  } catch (err) {
    throw new StartupError(`Cannot open cursor store: path ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Builds and starts every component in dependency order: telemetry, pod metadata, then the pipeline
 * (tailer -> batcher -> exporter, cursors).
 *
 * @throws {StartupError} when the cursor store or the telemetry listener cannot be opened
 */
export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const { config, logger } = options;
  const registryMetrics = new MetricsRegistry();
  const metrics = createAgentMetrics(registryMetrics);
  metrics.buildInfo.set(1, VERSION);
  let cpuSeenUs = { user: 0, system: 0 };
  registryMetrics.onCollect(() => {
    const cpu = process.cpuUsage();
    metrics.processCpuSeconds.inc(Math.max(0, cpu.user - cpuSeenUs.user) / 1e6, "user");
    metrics.processCpuSeconds.inc(Math.max(0, cpu.system - cpuSeenUs.system) / 1e6, "system");
    cpuSeenUs = cpu;
    const usage = Deno.memoryUsage();
    metrics.processResidentBytes.set(usage.rss);
    metrics.processHeapBytes.set(usage.heapUsed, "used");
    metrics.processHeapBytes.set(usage.heapTotal, "total");
    metrics.processHeapBytes.set(usage.external, "external");
  });
  const kinds = new KindTracker({
    registry: registryMetrics,
    onChange: (s) =>
      logger.log(
        s.isRaised ? "warn" : "info",
        s.isRaised ? "Degraded state raised" : "Degraded state cleared",
        {
          kind: s.kind,
          reason: s.reason,
        },
      ),
  });
  const registry = new Registry({ logger });
  let lockWait: ComponentHealth | null = null;
  // `/status` sections, filled in once their parts exist (the listener starts before them, see below).
  let statusOfFiles: () => unknown = () => [];
  let statusOfLimiter: () => unknown = () => null;
  const telemetry = config.telemetry.listen === "" ? null : new TelemetryServer({
    listen: config.telemetry.listen,
    registry: registryMetrics,
    kinds,
    health: () =>
      lockWait === null ? registry.health() : { isHealthy: false, components: { cursor_lock: lockWait } },
    status: { files: () => statusOfFiles(), limiter: () => statusOfLimiter() },
    isStatusRemoteAllowed: config.telemetry.isStatusRemoteAllowed,
    onListen: options.onTelemetryListen,
  });
  if (telemetry !== null) registry.add(telemetry);
  const ownsKv = options.kv === undefined;
  let lock: CursorLock | null = null;
  if (ownsKv) {
    // Telemetry first, so that a second agent waiting for the lock answers /readyz (not ready) and
    // /metrics (containerstdout_cursor_lock_waiting 1) while it waits.
    await telemetry?.start(options.signal ?? new AbortController().signal);
    try {
      lock = await holdCursorLock(config.cursor.path, logger, metrics, options.signal, (h) => lockWait = h);
    } catch (err) {
      await telemetry?.stop();
      throw err;
    }
  }
  let kv: Deno.Kv;
  try {
    kv = options.kv ?? await openCursorKv(config.cursor.path);
  } catch (err) {
    lock?.release();
    await telemetry?.stop();
    throw err;
  }
  const closeKv = (): void => {
    if (ownsKv) kv.close();
    // Only after the last commit and the close: the next agent resumes from exactly these cursors.
    lock?.release();
  };
  const scope: InstrumentationScope = { name: "containerstdout", version: VERSION };
  // Built once the batcher exists (below); detections arrive only after registry.start().
  let evictionStage: EvictionStage | null = null;
  // re2-wasm (a fixed 16 MiB WebAssembly heap) is loaded only when a dataloader pattern is outside the JS
  // subset; buildEnrichment does the same for the rank pattern.
  if (config.dataloader.enabled && DataloaderExtractor.needsRe2(config.dataloader.patterns)) {
    await loadRe2Engine();
  }
  let enrichment;
  try {
    enrichment = await buildEnrichment({
      config,
      metrics,
      kinds,
      logger,
      env: options.env,
      onDisruption: config.eviction.enabled ? (d) => evictionStage?.detected(d) : undefined,
    });
  } catch (err) {
    closeKv();
    await telemetry?.stop();
    throw new StartupError((err as Error).message, { cause: err });
  }
  const { enricher, informer, eventInformer } = enrichment;
  if (informer !== null) registry.add(informer);
  if (eventInformer !== null) registry.add(eventInformer);
  // The read path, one direction: tailer (read loop) -> assembler -> record stages -> batcher ->
  // exporter. Progress (acks, holds, commit schedule) and the loss ledger are passed in; the read loop
  // waits on progress.nextSettle() instead of being woken by the batcher.
  const progress = new Progress({ cursorFlushIntervalMs: config.cursor.flushIntervalMs });
  const ledger = new LossLedger({
    metrics,
    kinds,
    logger,
    descriptorWaitBoundMs: config.tail.descriptorStarvationAfterMs,
  });
  const exporter = new OtlpExporter({ ...config.exporter, metrics, logger });
  const batcher = new Batcher<string>({
    ...config.batch,
    maxConcurrentRequests: config.exporter.maxConcurrentRequests,
    exporter,
    ack: progress.ack,
    metrics,
  });
  // The last record stage. Stages from other issues (limiter, eviction join) go between the assembler
  // and this sink, each built with the next one.
  const toBatcher: RecordSink = {
    push: (record, origin) => batcher.push(record, origin.fileKey, origin.startOffset, origin.sizeBytes),
  };
  // Record stages, in DESIGN.md order: assembler -> training signals (container rates, dataloader
  // timings, JSON body) -> eviction join -> egress budgets -> batcher.
  // Egress budgets (issue 11): absent without a budget.
  const budgets = buildEgressBudgets({
    config,
    metrics,
    kinds,
    next: toBatcher,
    onDropped: (origin) => ledger.dropped(origin, RATE_LIMIT_DROP_REASON),
  });
  if (budgets !== null) {
    registryMetrics.onCollect(budgets.collect);
    statusOfLimiter = budgets.status;
  }
  const readGate = combineReadGates(options.readGate, budgets?.readGate);
  const afterEviction: RecordSink = budgets?.stage ?? toBatcher;
  if (config.eviction.enabled) {
    // Event records it makes carry an origin with fileKey "": the ack tracker holds them under that key
    // until their batch settles, and no cursor exists for it (see docs/eviction.md). Their podPath is null,
    // so the egress budgets let them through.
    evictionStage = new EvictionStage({
      next: afterEviction,
      join: new EvictionJoin({
        lastLines: config.eviction.lastLines,
        maxLineBytes: config.eviction.maxLineBytes,
        maxContainerBytes: config.eviction.maxContainerBytes,
        maxTotalBytes: config.eviction.maxTotalBytes,
        matchWindowMs: config.eviction.matchWindowMs,
        maxWaitMs: config.eviction.maxWaitMs,
        dedupTtlMs: config.eviction.dedupTtlMs,
      }),
      keys: new EmittedKeyStore({ kv, ttlMs: config.eviction.dedupTtlMs }),
      scope,
      nodeName: config.nodeName,
      metrics,
      logger,
    });
  }
  // The read loop counts its turns; the JSON stage reuses its output buffers by that count. Every stage
  // below is done with a record (encoded it, or copied what it keeps) within the record's turn.
  const readTurns = new ReadTurns();
  // Training signals (issue 10), before the eviction join so its event records are not counted as lines.
  let signals;
  try {
    signals = buildSignalStages({
      config,
      metrics,
      logger,
      scope,
      readTurns,
      resourceAttributes: config.nodeName === "" ? {} : { "k8s.node.name": config.nodeName },
      next: evictionStage ?? afterEviction,
    });
  } catch (err) {
    closeKv();
    throw new StartupError((err as Error).message, { cause: err });
  }
  registryMetrics.onCollect(signals.collect);
  // Added before the tailer so it stops after it: its last export carries every record's timings.
  if (signals.metricsExporter !== null) registry.add(signals.metricsExporter);
  const assemblerOptions: RecordAssemblerOptions = {
    sink: signals.head,
    enrichment: enricher,
    scope,
    maxLogSizeBytes: config.maxLogSizeBytes,
    includeFilePath: config.includeFilePath,
    partialFlushTimeoutMs: config.partialFlushTimeoutMs,
  };
  const tailer = new Tailer({
    config,
    discovery: new Discovery({
      include: config.include,
      exclude: config.exclude,
      namespacesInclude: config.namespaces.include,
      namespacesExclude: config.namespaces.exclude,
      metrics,
      logger,
    }),
    cursorStore: new CursorStore({ kv }),
    assembler: (options.assembler ?? ((o) => new RecordAssembler(o)))(assemblerOptions),
    exportQueue: batcher,
    progress,
    ledger,
    enricher,
    metrics,
    kinds,
    logger,
    readGate,
    readTurns,
  });
  registry.add(tailer);
  statusOfFiles = () => tailer.snapshot();
  registryMetrics.onCollect(() => {
    tailer.refreshMemoryGauges();
    let behind = 0;
    for (const file of tailer.snapshot()) behind += file.bytesBehind;
    metrics.readLagBytes.set(behind);
  });
  if (evictionStage !== null) {
    // Added after the tailer so it stops first: its pending event records reach the batcher before the
    // tailer drains it. Its keys are restored before anything is read, so a restart tags at once.
    registry.add(evictionStage);
  }
  try {
    await evictionStage?.restoreKeys();
    await registry.start();
  } catch (err) {
    closeKv();
    throw new StartupError((err as Error).message, { cause: err });
  }
  let stopping: Promise<void> | null = null;
  return {
    registry,
    metrics,
    snapshot: () => tailer.snapshot(),
    stop: () => {
      stopping ??= registry.stop().finally(closeKv);
      return stopping;
    },
  };
}
