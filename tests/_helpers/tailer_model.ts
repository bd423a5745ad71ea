/**
 * A model-based check of the whole tailing pipeline: random sequences of kubelet-like file operations
 * (writes, P pieces, rename rotation, compression, deletion, copytruncate) and agent restarts run against
 * the real in-process agent and a fake OTLP sink, beside a tiny model of what must be delivered.
 *
 * The model knows every record written and the physical file it went to. After the sequence it asks:
 * was every record delivered at least once with its exact body, in order per (file, stream), with
 * duplicates only across a restart, and do the agent's counters match what was done?
 *
 * The actions respect what the agent documents it cannot do (src/tailer/README.md):
 * - copytruncate only a file whose records were all delivered, then wait until the truncation is counted
 *   (a truncation plus a rewrite past the old offset between two scans is not detected while running);
 * - compress or delete a rotated file while the agent runs only after its records were delivered, or mark
 *   the records not yet delivered as allowed loss (always so while the agent is down);
 * - a record the agent read halfway when it stopped leaves in two parts (the first flagged
 *   `log.partial_flush`): accepted as a split, never silently;
 * - the first instance commits a cursor before any restart: until then a restart is a first start, which
 *   reads only the included names.
 *
 * @module
 */

import { type OtlpSink, startOtlpSink } from "../_fakes/otlp_sink.ts";
import { type Harness, startHarness } from "./agent_harness.ts";
import { waitFor } from "./agent_process.ts";
import { ContainerLog, criLine, fakeUid } from "./kubelet_tree.ts";

/** A container stream. */
export type Stream = "stdout" | "stderr";

/** One record to write: the text after its generated id (`text` repeated `times`), and P cut seeds. */
export interface RecordSpec {
  stream: Stream;
  text: string;
  times: number;
  /** Each seed is mapped to a byte position inside the body (it may split a UTF-8 character). */
  cutSeeds: readonly number[];
}

/** File operations, allowed both while the agent runs and while it is down. */
export type FileAction =
  | { kind: "write"; container: number; records: readonly RecordSpec[] }
  | { kind: "rotate"; container: number; oldFdRecords: readonly RecordSpec[] }
  | { kind: "compress"; container: number; pick: number }
  | { kind: "delete"; container: number; pick: number; isAfterDelivery: boolean };

/** One step of a generated sequence. */
export type Action =
  | FileAction
  | { kind: "copytruncate"; container: number }
  | { kind: "restart"; whileDown: readonly FileAction[] }
  | { kind: "outage"; ms: number }
  | { kind: "wait"; ms: number };

/** Number of containers a run writes to. */
export const CONTAINER_COUNT = 2;

/** Runtimes split a write longer than this into P pieces (containerd: ~16 KiB). */
const MAX_LINE_BODY_BYTES = 16 * 1024;

/** Config overrides for the model runs (on top of the harness's fast timings). */
export const MODEL_AGENT_CONFIG: Record<string, unknown> = {
  // One export request at a time, so the sink sees each file's records in the order the agent read them.
  exporter: { max_concurrent_requests: 1 },
  // Records are written whole; only a shutdown may cut one (a read racing the write), never a timeout.
  partial_flush_timeout: "1s",
  // Watch events trigger scans; the safety rescan bounds what a dropped event can delay. A small read
  // buffer so bursts of long records straddle read boundaries.
  tail: {
    watch_rescan_interval: "1s",
    rescan_interval: "100ms",
    rotate_wait: "200ms",
    read_buffer_size: "64KiB",
  },
};

/** What one agent instance (between two restarts) saw, for the counter checks. */
interface Epoch {
  harness: Harness;
  /** Rotations done while this instance ran. */
  rotations: number;
  /** Rotated files present when it started (it may count them again when it finds them by cursor). */
  rotatedAtStart: number;
  /** Non-empty copytruncates done while this instance ran (each awaited until counted). */
  truncations: number;
}

/** What a run did, for the generator checks across runs. */
export interface RunReport extends Checked {
  rotations: number;
  truncations: number;
  restarts: number;
  compressions: number;
  records: number;
}

const encoder = new TextEncoder();
const WAIT_MS = 10_000;
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `actions` against a fresh agent, temp tree and sink; throws an error listing every mismatch. */
export async function runModel(actions: readonly Action[]): Promise<RunReport> {
  const dir = await Deno.makeTempDir({ prefix: "cso-model-" });
  const sink = await startOtlpSink();
  const run = new ModelRun(dir, sink);
  try {
    await run.start();
    for (const action of actions) {
      await run.apply(action);
      await delay(0);
    }
    return await run.finish();
  } finally {
    await run.close();
    await sink.close();
    await Deno.remove(dir, { recursive: true });
  }
}

class ModelRun {
  #dir: string;
  #sink: OtlpSink;
  #epochs: Epoch[] = [];
  #isRunning = false;
  #logs: ContainerLog[] = [];
  /** Per container: every physical file it wrote, the current one last. */
  #files: ModelFile[][] = [];
  #records: WrittenRecord[] = [];
  #restartMarks: number[] = [];
  /** Rotated files removed before any agent surely saw them: their rotation may never be counted. */
  #uncertainRotations = 0;
  #seq = 0;
  #copies = 0;
  #trace: string[] = [];
  #report = { rotations: 0, truncations: 0, restarts: 0, compressions: 0 };

  constructor(dir: string, sink: OtlpSink) {
    this.#dir = dir;
    this.#sink = sink;
  }

  async start(): Promise<void> {
    await this.#startAgent();
    for (let k = 0; k < CONTAINER_COUNT; k++) {
      const spec = { namespace: "model", pod: `pod-${k}`, uid: fakeUid(500 + k), container: "main" };
      const log = new ContainerLog(this.#epoch.harness.root, spec);
      this.#logs.push(log);
      this.#files.push([{
        id: `${k}/0`,
        container: k,
        dir: log.dir,
        path: log.path,
        records: [],
        isGone: false,
      }]);
    }
    // Until a first cursor is stored a restart is a first start, which reads only the included names.
    const metrics = this.#epoch.harness.agent.metrics;
    await waitFor(() => metrics.filesTracked.get() >= CONTAINER_COUNT, {
      timeoutMs: WAIT_MS,
      intervalMs: 10,
    });
    // cursors_tracked is set by a commit that succeeded, after the files were tracked.
    await waitFor(() => metrics.cursorsTracked.get() >= CONTAINER_COUNT, {
      timeoutMs: WAIT_MS,
      intervalMs: 10,
    });
  }

  get #epoch(): Epoch {
    return this.#epochs[this.#epochs.length - 1];
  }

  async #startAgent(): Promise<void> {
    this.#restartMarks.push(this.#sink.records.length);
    const harness = await startHarness({ dir: this.#dir, sink: this.#sink, config: MODEL_AGENT_CONFIG });
    const rotatedAtStart = this.#files.reduce(
      (n, files) => n + files.slice(0, -1).filter((f) => !f.isGone).length,
      0,
    );
    this.#epochs.push({ harness, rotations: 0, rotatedAtStart, truncations: 0 });
    this.#isRunning = true;
  }

  async apply(action: Action): Promise<void> {
    this.#trace.push(describe(action));
    switch (action.kind) {
      case "copytruncate":
        return await this.#copytruncate(action.container);
      case "restart":
        this.#report.restarts++;
        this.#isRunning = false;
        await this.#epoch.harness.stopAgent();
        for (const a of action.whileDown) await this.#applyFileAction(a);
        return await this.#startAgent();
      case "outage":
        // The OTLP endpoint answers 503 for a while: batches are retried, nothing is stored twice.
        this.#sink.respondWith({ status: 503 });
        await delay(action.ms);
        return this.#sink.respondWith({ status: 200 });
      case "wait":
        return await delay(action.ms);
      default:
        return await this.#applyFileAction(action);
    }
  }

  async #applyFileAction(action: FileAction): Promise<void> {
    switch (action.kind) {
      case "write": {
        const log = this.#logs[action.container];
        const file = this.#current(action.container);
        for (const spec of action.records) {
          const r = this.#newRecord(spec, file);
          log.write(r.stream, r.body, r.cuts);
        }
        return;
      }
      case "rotate":
        return this.#rotate(action.container, action.oldFdRecords);
      case "compress":
      case "delete":
        return await this.#removeRotated(action);
    }
  }

  #current(container: number): ModelFile {
    const files = this.#files[container];
    return files[files.length - 1];
  }

  #newRecord(spec: RecordSpec, file: ModelFile): WrittenRecord & { cuts: number[] } {
    const body = `c${file.container}#${this.#seq++} ${spec.text.repeat(spec.times)}`;
    const size = encoder.encode(body).length;
    const cuts = size > 1 ? spec.cutSeeds.map((s) => 1 + (s % (size - 1))) : [];
    for (let at = MAX_LINE_BODY_BYTES; at < size; at += MAX_LINE_BODY_BYTES) cuts.push(at);
    const order = file.records.filter((r) => r.stream === spec.stream).length;
    const record = { body, stream: spec.stream, file, order, isLossAllowed: false, cuts };
    file.records.push(record);
    this.#records.push(record);
    return record;
  }

  #rotate(container: number, oldFdRecords: readonly RecordSpec[]): void {
    const log = this.#logs[container];
    const old = this.#current(container);
    const { rotatedPath, oldFile } = log.rotate({ keepOldOpen: oldFdRecords.length > 0 });
    old.path = rotatedPath;
    this.#report.rotations++;
    if (this.#isRunning) this.#epoch.rotations++;
    if (oldFile !== null) {
      // The runtime still holds the old descriptor for a moment after kubelet's rename.
      for (const spec of oldFdRecords) {
        const r = this.#newRecord(spec, old);
        oldFile.writeSync(pieces(r.stream, r.body, r.cuts));
      }
      oldFile.close();
    }
    const n = this.#files[container].length;
    this.#files[container].push({
      id: `${container}/${n}`,
      container,
      dir: log.dir,
      path: log.path,
      records: [],
      isGone: false,
    });
  }

  /** Compresses (`.gz` copy, original removed) or deletes a rotated file of the container, if any. */
  async #removeRotated(action: Extract<FileAction, { kind: "compress" | "delete" }>): Promise<void> {
    const candidates = this.#files[action.container].slice(0, -1).filter((f) => !f.isGone);
    if (candidates.length === 0) return;
    const file = candidates[action.pick % candidates.length];
    const mustDeliverFirst = this.#isRunning && (action.kind === "compress" || action.isAfterDelivery);
    if (mustDeliverFirst) await this.#waitDelivered(file.records, `before ${action.kind} of ${file.path}`);
    else {
      // Compressed or deleted before the agent read it (or while it is down): loss is allowed, not required.
      const check = checkDelivery(this.#sink, this.#records, this.#restartMarks);
      for (const r of file.records) if (!check.isSettled(r)) r.isLossAllowed = true;
    }
    // Delivered records prove the agent tracked the file, so its rotation is counted; otherwise it may not be.
    if (!mustDeliverFirst || file.records.length === 0) this.#uncertainRotations++;
    if (action.kind === "compress") {
      this.#report.compressions++;
      const bytes = await Deno.readFile(file.path);
      const gzipped = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
      await Deno.writeFile(`${file.path}.gz`, new Uint8Array(await new Response(gzipped).arrayBuffer()));
    }
    await Deno.remove(file.path);
    file.isGone = true;
  }

  /** Copies the current file aside and truncates it in place, once the agent has delivered all of it. */
  async #copytruncate(container: number): Promise<void> {
    const log = this.#logs[container];
    const file = this.#current(container);
    // The agent cannot see a truncation followed by a rewrite past its offset between two scans
    // (README: known limitations): truncate only a file it has caught up with, then wait until it noticed.
    await this.#waitDelivered(file.records, `before copytruncate of ${file.path}`);
    const sizeBytes = log.bytesWritten;
    await Deno.copyFile(log.path, `${log.path}.copy${this.#copies++}`);
    const metrics = this.#epoch.harness.agent.metrics;
    const before = metrics.truncations.get("size_shrank");
    log.truncate();
    if (sizeBytes === 0) return;
    this.#report.truncations++;
    this.#epoch.truncations++;
    await waitFor(() => metrics.truncations.get("size_shrank") > before, {
      timeoutMs: WAIT_MS,
      intervalMs: 10,
      message: () => `truncation of ${log.path} (${sizeBytes} bytes) never counted\n${this.#traceText()}`,
    });
  }

  async #waitDelivered(records: readonly WrittenRecord[], what: string): Promise<void> {
    let missing: WrittenRecord[] = [];
    await waitFor(() => {
      const check = checkDelivery(this.#sink, this.#records, this.#restartMarks);
      missing = records.filter((r) => !r.isLossAllowed && !check.isSettled(r));
      return missing.length === 0;
    }, {
      timeoutMs: WAIT_MS,
      intervalMs: 10,
      message: () =>
        `${what}: ${missing.length} records never delivered, first ${
          JSON.stringify(missing[0]?.body.slice(0, 80))
        }` +
        `\n${this.#traceText()}`,
    });
  }

  /**
   * Waits for quiescence (every record that must arrive did, every rotation that must be counted was),
   * stops the agent and checks everything.
   */
  async finish(): Promise<RunReport> {
    await this.#waitDelivered(this.#records, "at the end");
    const minRotations = this.#report.rotations - this.#uncertainRotations;
    await waitFor(() => this.#countedRotations() >= minRotations, {
      timeoutMs: WAIT_MS,
      intervalMs: 10,
      message: () =>
        `rotations counted ${this.#countedRotations()}, want >= ${minRotations}\n${this.#traceText()}`,
    });
    this.#isRunning = false;
    await this.#epoch.harness.stopAgent();
    const checked = checkDelivery(this.#sink, this.#records, this.#restartMarks);
    const problems = [...checked.problems, ...this.#counterProblems()];
    if (problems.length > 0) {
      throw new Error(`Model mismatch:\n  ${problems.slice(0, 20).join("\n  ")}\n${this.#traceText()}`);
    }
    return { ...this.#report, ...checked, records: this.#records.length };
  }

  #countedRotations(): number {
    return this.#epochs.reduce((n, e) => n + e.harness.agent.metrics.rotations.get(), 0);
  }

  #counterProblems(): string[] {
    const problems: string[] = [];
    const hasLossAllowed = this.#records.some((r) => r.isLossAllowed);
    this.#epochs.forEach((e, i) => {
      const m = e.harness.agent.metrics;
      const name = `agent #${i}`;
      const rotations = m.rotations.get();
      const truncated = m.truncations.get("size_shrank");
      if (truncated !== e.truncations) {
        problems.push(`${name}: size_shrank truncations ${truncated}, want ${e.truncations}`);
      }
      const guard = m.truncations.get("guard_mismatch");
      if (guard !== 0) {
        problems.push(`${name}: guard_mismatch truncations ${guard}, want 0 (no truncation while down)`);
      }
      // Each rotated file is counted at most once per instance: the ones rotated while it ran, and the
      // ones it found at start (renamed while it was down, or rotated earlier and found by cursor).
      if (rotations > e.rotations + e.rotatedAtStart) {
        problems.push(
          `${name}: rotations ${rotations}, want <= ${e.rotations} + ${e.rotatedAtStart} found at start`,
        );
      }
      const internal = m.readErrors.get("internal_error");
      if (internal !== 0) problems.push(`${name}: ${internal} tailer loop errors`);
      if (!hasLossAllowed && m.bytesLost.total() !== 0) {
        problems.push(`${name}: lost_bytes_total ${m.bytesLost.total()} though no file was removed unread`);
      }
    });
    return problems;
  }

  #traceText(): string {
    const tail = this.#epochs.at(-1)?.harness.logs.slice(-15) ?? [];
    // What is on disk and what the agent tracks: enough to tell a missed file from a misread one.
    const onDisk: string[] = [];
    for (const log of this.#logs) {
      try {
        for (const entry of Deno.readDirSync(log.dir)) {
          const info = Deno.statSync(`${log.dir}/${entry.name}`);
          onDisk.push(`${log.dir}/${entry.name} ino=${info.ino} size=${info.size}`);
        }
      } catch (error) {
        onDisk.push(`${log.dir}: ${error}`);
      }
    }
    const tracked = this.#epochs.at(-1)?.harness.agent.snapshot() ?? [];
    return `actions:\n  ${this.#trace.join("\n  ")}\nlast agent logs:\n  ${tail.join("\n  ")}` +
      `\nfiles on disk:\n  ${onDisk.join("\n  ")}` +
      `\ntracked:\n  ${
        tracked.map((f) => `${f.path} ${f.identity} offset=${f.offset} ${f.state}`).join("\n  ")
      }`;
  }

  async close(): Promise<void> {
    for (const log of this.#logs) log.close();
    await this.#epochs.at(-1)?.harness.stopAgent();
  }
}

/** A record as the runtime writes it: P pieces cut at `cuts` (byte positions), then the F piece. */
function pieces(stream: Stream, body: string, cuts: readonly number[]): Uint8Array {
  const bytes = encoder.encode(body);
  const time = new Date();
  const lines: Uint8Array[] = [];
  let prev = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    if (cut <= prev || cut >= bytes.length) continue;
    lines.push(criLine(time, stream, "P", bytes.subarray(prev, cut)));
    prev = cut;
  }
  lines.push(criLine(time, stream, "F", bytes.subarray(prev)));
  const out = new Uint8Array(lines.reduce((n, l) => n + l.length, 0));
  let at = 0;
  for (const l of lines) {
    out.set(l, at);
    at += l.length;
  }
  return out;
}

function describe(action: Action): string {
  switch (action.kind) {
    case "write":
      return `write c${action.container} ${action.records.length} records` +
        ` (${action.records.filter((r) => r.cutSeeds.length > 0).length} in P pieces)`;
    case "rotate":
      return `rotate c${action.container}, ${action.oldFdRecords.length} records to the old descriptor`;
    case "compress":
      return `compress c${action.container} rotated #${action.pick}`;
    case "delete":
      return `delete c${action.container} rotated #${action.pick}${
        action.isAfterDelivery ? " after delivery" : ""
      }`;
    case "copytruncate":
      return `copytruncate c${action.container}`;
    case "restart":
      return `restart; while down: [${action.whileDown.map(describe).join("; ")}]`;
    case "outage":
      return `OTLP endpoint answers 503 for ${action.ms}ms`;
    case "wait":
      return `wait ${action.ms}ms`;
  }
}

// ---- the model's verdict ----------------------------------------------------------------------

/** One physical file a container wrote (its current name; `0.log` until rotated). */
export interface ModelFile {
  /** `<container>/<n>`: the n-th file of the container. */
  id: string;
  container: number;
  dir: string;
  path: string;
  records: WrittenRecord[];
  /** Compressed or deleted. */
  isGone: boolean;
}

/** One record written, where it went, and whether the model lets it go missing. */
export interface WrittenRecord {
  body: string;
  stream: Stream;
  file: ModelFile;
  /** Index among the records of the same file and stream. */
  order: number;
  /** Its file was removed before the agent could have delivered it. */
  isLossAllowed: boolean;
}

/** What the sink holds, judged against the records written. */
export interface Checked {
  /** Every mismatch, one line each. */
  problems: string[];
  /** Deliveries beyond the first of a record. */
  duplicates: number;
  /** Records delivered in two parts because a shutdown flushed their first pieces (README: limitations). */
  splits: number;
  /** Whether a record arrived, whole or as a shutdown split. */
  isSettled(record: WrittenRecord): boolean;
}

const REPLACEMENT = /^\uFFFD+|\uFFFD+$/g;

/** Judges the sink's records against the written ones; `restartMarks` are sink record counts at each start. */
export function checkDelivery(
  sink: OtlpSink,
  records: readonly WrittenRecord[],
  restartMarks: readonly number[],
): Checked {
  const byBody = new Map(records.map((r) => [r.body, r]));
  const seenAt = new Map<WrittenRecord, number[]>();
  const unmatched: number[] = [];
  sink.records.forEach((s, i) => {
    const w = byBody.get(String(s.record.body));
    if (w === undefined) return unmatched.push(i);
    const list = seenAt.get(w);
    if (list === undefined) seenAt.set(w, [i]);
    else list.push(i);
  });
  const splits = findSplits(sink, records, seenAt, unmatched);
  const problems: string[] = [];
  for (const r of records) {
    if (!r.isLossAllowed && !seenAt.has(r) && !splits.has(r)) {
      problems.push(`never delivered: ${label(r)}`);
    }
  }
  const explained = new Set([...splits.values()].flat());
  for (const i of unmatched) {
    if (!explained.has(i)) {
      problems.push(`unexpected record #${i}: ${JSON.stringify(bodyAt(sink, i).slice(0, 80))}`);
    }
  }
  problems.push(...orderProblems(sink, byBody), ...attributeProblems(sink, seenAt));
  let duplicates = 0;
  for (const [r, at] of seenAt) {
    duplicates += at.length - 1;
    for (let k = 1; k < at.length; k++) {
      if (!restartMarks.some((m) => at[k - 1] < m && m <= at[k])) {
        problems.push(`duplicate without a restart in between: ${label(r)} at #${at[k - 1]} and #${at[k]}`);
      }
    }
  }
  return { problems, duplicates, splits: splits.size, isSettled: (r) => seenAt.has(r) || splits.has(r) };
}

/**
 * A record missing whole may have been cut by a shutdown flush: a prefix flagged `log.partial_flush`,
 * then the rest as its own record after the restart. Returns those records with the two sink indexes.
 */
function findSplits(
  sink: OtlpSink,
  records: readonly WrittenRecord[],
  seenAt: Map<WrittenRecord, number[]>,
  unmatched: readonly number[],
): Map<WrittenRecord, [number, number]> {
  const out = new Map<WrittenRecord, [number, number]>();
  if (unmatched.length === 0) return out;
  for (const r of records) {
    if (seenAt.has(r)) continue;
    const sameStream = unmatched.filter((i) =>
      sink.records[i].record.attributes["log.iostream"] === r.stream
    );
    const head = sameStream.find((i) => {
      const text = bodyAt(sink, i).replace(REPLACEMENT, "");
      return sink.records[i].record.attributes["log.partial_flush"] !== undefined && text !== "" &&
        r.body.startsWith(text);
    });
    if (head === undefined) continue;
    const tail = sameStream.find((i) => {
      const text = bodyAt(sink, i).replace(REPLACEMENT, "");
      return i > head && text !== "" && r.body.endsWith(text);
    });
    if (tail !== undefined) out.set(r, [head, tail]);
  }
  return out;
}

/** First deliveries of each (file, stream) must follow the order the records were written in. */
function orderProblems(sink: OtlpSink, byBody: Map<string, WrittenRecord>): string[] {
  const problems: string[] = [];
  const last = new Map<string, number>();
  const seen = new Set<WrittenRecord>();
  sink.records.forEach((s, i) => {
    const r = byBody.get(String(s.record.body));
    if (r === undefined || seen.has(r)) return;
    seen.add(r);
    const key = `${r.file.id}|${r.stream}`;
    const prev = last.get(key) ?? -1;
    if (r.order <= prev) problems.push(`out of order at #${i}: ${label(r)} after order ${prev}`);
    last.set(key, Math.max(prev, r.order));
  });
  return problems;
}

function attributeProblems(sink: OtlpSink, seenAt: Map<WrittenRecord, number[]>): string[] {
  const problems: string[] = [];
  for (const [r, at] of seenAt) {
    for (const i of at) {
      const attrs = sink.records[i].record.attributes;
      const path = String(attrs["log.file.path"]);
      if (attrs["log.iostream"] !== r.stream) {
        problems.push(`#${i} ${label(r)}: log.iostream ${attrs["log.iostream"]}`);
      }
      if (!path.startsWith(`${r.file.dir}/`)) problems.push(`#${i} ${label(r)}: log.file.path ${path}`);
      for (const flag of ["log.partial_flush", "log.parse_error", "log.truncated"]) {
        if (attrs[flag] !== undefined) {
          problems.push(`#${i} ${label(r)}: ${flag}=${attrs[flag]} on a whole record`);
        }
      }
    }
  }
  return problems;
}

function bodyAt(sink: OtlpSink, index: number): string {
  return String(sink.records[index].record.body);
}

function label(r: WrittenRecord): string {
  return `${JSON.stringify(r.body.slice(0, 40))} (file ${r.file.id} ${r.stream} #${r.order})`;
}
