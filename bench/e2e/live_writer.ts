/**
 * A live container-runtime + kubelet stand-in: appends generated CRI lines to every file at a steady
 * rate, stamped with the wall-clock time of the write, and rotates files the way kubelet does.
 *
 * Each CRI line (each P/F piece) goes to its file with its own write(2), as containerd and CRI-O write
 * them: every line is one file event for a watcher. Lines are spread over short ticks (2 ms by default)
 * round-robin across files, so a file sees its lines one write at a time, not in 20 ms bursts.
 *
 * Rotation, as kubelet's container log manager does it: gzip every rotated file but the latest one
 * (`<name>.tmp` then rename to `<name>.gz`, then remove the original), remove the oldest beyond
 * `maxFiles`, rename `N.log` to `N.log.<YYYYMMDD-HHMMSS>`, and ask the runtime to reopen. The runtime
 * (containerd) keeps writing to the renamed file's fd until it reopens, `reopenDelayMs` later.
 *
 * @module
 */

import { join } from "node:path";
import type { ExpectedModel } from "./expected.ts";
import { CriEncoder } from "./cri_encoder.ts";
import {
  type GeneratedFile,
  type GeneratedRecord,
  type GeneratorOptions,
  RecordSource,
} from "./generator.ts";

/** Options for {@linkcode LiveWriter}. */
export interface LiveWriterOptions extends GeneratorOptions {
  root: string;
  files: readonly GeneratedFile[];
  /** Receives every record written (the model's base second must be at or before now). */
  model: ExpectedModel;
  /** CRI lines per second over all files. @default 5000 */
  linesPerSec?: number;
  /** Rotate a file once it holds at least this many bytes; 0 never rotates. @default 524288 */
  rotateBytes?: number;
  /** How long the runtime keeps writing to a renamed file before it reopens. @default 100 */
  reopenDelayMs?: number;
  /** Files kept per container (current + rotated), as kubelet's containerLogMaxFiles. @default 5 */
  maxFiles?: number;
  /** Pacing period: the lines due are written every tick, each with its own write(2). @default 2 */
  tickMs?: number;
}

/** What the writer has done. */
export interface LiveWriterStats {
  lines: number;
  /** write(2) calls made: one per CRI line (plus one per short write, which regular files never do). */
  writes: number;
  records: number;
  bytes: number;
  rotations: number;
  gzipped: number;
  removed: number;
}

interface FileState {
  readonly file: GeneratedFile;
  readonly source: RecordSource;
  readonly encoder: CriEncoder;
  handle: Deno.FsFile;
  /** The fd the runtime writes to until its reopen, after a rename. */
  reopenAtMs: number;
  sizeBytes: number;
  lastTimeNs: number;
  /** Rotated names, oldest first. */
  rotated: string[];
  /** Record-time windows (ns) between a rename and the runtime's reopen: lines land in the rotated file. */
  reopenWindows: { fromNs: number; toNs: number }[];
}

const ROTATION_SUFFIX = (date: Date): string =>
  date.toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");

/** Writes `bytes` with as few write(2) calls as the kernel allows (one for a regular file); returns the count. */
function writeAll(handle: Deno.FsFile, bytes: Uint8Array): number {
  let offset = 0;
  let calls = 0;
  while (offset < bytes.length) {
    offset += handle.writeSync(bytes.subarray(offset));
    calls++;
  }
  return calls;
}

/** Writes lines at a steady rate into every file and rotates them like kubelet. */
export class LiveWriter {
  #options: LiveWriterOptions;
  #states: FileState[] = [];
  #stats: LiveWriterStats = {
    lines: 0,
    writes: 0,
    records: 0,
    bytes: 0,
    rotations: 0,
    gzipped: 0,
    removed: 0,
  };
  #next = 0;
  #pendingReopens = new Set<FileState>();
  /** Serializes writes, rotations and reopens: they share file handles across awaits. */
  #queue: Promise<void> = Promise.resolve();

  constructor(options: LiveWriterOptions) {
    this.#options = options;
  }

  /** What has been written so far. */
  get stats(): LiveWriterStats {
    return { ...this.#stats };
  }

  /** Creates the container directories and opens (appends to) every current file. */
  async open(): Promise<void> {
    for (const file of this.#options.files) {
      await Deno.mkdir(join(this.#options.root, file.containerDir), { recursive: true });
      const path = join(this.#options.root, file.relPath);
      const handle = await Deno.open(path, { append: true, create: true });
      this.#states.push({
        file,
        source: new RecordSource(file.index, this.#options),
        encoder: new CriEncoder(this.#options.model.baseEpochSec, 64 * 1024),
        handle,
        reopenAtMs: 0,
        sizeBytes: (await handle.stat()).size,
        lastTimeNs: 0,
        rotated: [],
        reopenWindows: [],
      });
    }
  }

  /** Writes at the configured rate for `durationMs` (or until `signal` aborts). */
  async run(durationMs: number, signal?: AbortSignal): Promise<void> {
    const linesPerSec = this.#options.linesPerSec ?? 5000;
    const tickMs = this.#options.tickMs ?? 2;
    const startMs = performance.now();
    const startLines = this.#stats.lines;
    while (signal?.aborted !== true) {
      const elapsedMs = performance.now() - startMs;
      if (elapsedMs >= durationMs) break;
      const due = Math.floor((linesPerSec * elapsedMs) / 1000) - (this.#stats.lines - startLines);
      await this.#exclusive(() => this.#writeLines(due));
      await new Promise((resolve) => setTimeout(resolve, tickMs));
    }
    await this.#exclusive(() => this.#finishReopens(true));
  }

  /** Rotates every file now (e.g. while the agent is down); the runtime reopens after the delay. */
  rotateAll(): Promise<void> {
    return this.#exclusive(async () => {
      // A file renamed moments ago is reopened first: kubelet rotates the current `N.log` only.
      await this.#finishReopens(true);
      for (const state of this.#states) await this.#rotate(state);
      await this.#finishReopens(true);
    });
  }

  #exclusive(step: () => Promise<void>): Promise<void> {
    const result = this.#queue.then(step);
    this.#queue = result.catch(() => {});
    return result;
  }

  /** Closes every fd. Idempotent. */
  close(): void {
    for (const state of this.#states) {
      try {
        state.handle.close();
      } catch {
        // Already closed by an earlier call.
      }
    }
  }

  /** Now, in nanoseconds since the model's base second (the time base of record times). */
  #nowNs(): number {
    const sinceBaseMs = performance.timeOrigin + performance.now() - this.#options.model.baseEpochSec * 1000;
    return Math.round(sinceBaseMs * 1e6);
  }

  /**
   * The record-time windows in which `fileIndex`'s lines went to a file already renamed away (written
   * between a rotation's rename and the runtime's reopen).
   */
  reopenWindows(fileIndex: number): readonly { fromNs: number; toNs: number }[] {
    return this.#states.find((s) => s.file.index === fileIndex)?.reopenWindows ?? [];
  }

  async #writeLines(count: number): Promise<void> {
    const nowNs = (): number => this.#nowNs();
    let written = 0;
    while (written < count && this.#states.length > 0) {
      const state = this.#states[this.#next++ % this.#states.length];
      const before = state.encoder.lines;
      const nextTimeNs = (): number => (state.lastTimeNs = Math.max(state.lastTimeNs + 1, nowNs()));
      const onRecord = (record: GeneratedRecord, timeNs: number): void => {
        this.#options.model.add(state.file.index, record.stream, timeNs, record.body);
        this.#stats.records++;
      };
      state.encoder.append(state.source.next(), nextTimeNs, onRecord);
      written += state.encoder.lines - before;
      this.#writeEachLine(state);
    }
    this.#stats.lines += written;
    await this.#finishReopens(false);
    const rotateBytes = this.#options.rotateBytes ?? 512 * 1024;
    if (rotateBytes <= 0) return;
    for (const state of this.#states) {
      if (state.sizeBytes >= rotateBytes && !this.#pendingReopens.has(state)) await this.#rotate(state);
    }
  }

  /** Writes the lines just encoded for `state`, one write(2) per CRI line, as a container runtime does. */
  #writeEachLine(state: FileState): void {
    const bytes = state.encoder.bytes();
    let start = 0;
    while (start < bytes.length) {
      // Every encoded line ends in "\n" and a CRI body never holds one.
      const newline = bytes.indexOf(0x0a, start);
      const end = newline === -1 ? bytes.length : newline + 1;
      this.#stats.writes += writeAll(state.handle, bytes.subarray(start, end));
      start = end;
    }
    state.sizeBytes += bytes.length;
    this.#stats.bytes += bytes.length;
    state.encoder.clear();
  }

  async #rotate(state: FileState): Promise<void> {
    const dir = join(this.#options.root, state.file.containerDir);
    const current = join(this.#options.root, state.file.relPath);
    for (const name of state.rotated.slice(0, -1)) {
      if (!name.endsWith(".gz")) await this.#gzip(dir, name, state);
    }
    const maxRotated = (this.#options.maxFiles ?? 5) - 1;
    while (state.rotated.length >= maxRotated) {
      await Deno.remove(join(dir, state.rotated.shift()!));
      this.#stats.removed++;
    }
    const baseName = `${state.file.restartCount}.log`;
    let date = new Date();
    let name = `${baseName}.${ROTATION_SUFFIX(date)}`;
    while (state.rotated.some((r) => r.startsWith(name))) {
      date = new Date(date.getTime() + 1000);
      name = `${baseName}.${ROTATION_SUFFIX(date)}`;
    }
    await Deno.rename(current, join(dir, name));
    state.reopenWindows.push({ fromNs: this.#nowNs(), toNs: Infinity });
    state.rotated.push(name);
    state.reopenAtMs = performance.now() + (this.#options.reopenDelayMs ?? 100);
    this.#pendingReopens.add(state);
    this.#stats.rotations++;
  }

  async #gzip(dir: string, name: string, state: FileState): Promise<void> {
    const source = join(dir, name);
    const data = await Deno.readFile(source);
    const gz = new Uint8Array(
      await new Response(new Blob([data]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
    );
    await Deno.writeFile(`${source}.tmp`, gz);
    await Deno.rename(`${source}.tmp`, `${source}.gz`);
    await Deno.remove(source);
    state.rotated[state.rotated.indexOf(name)] = `${name}.gz`;
    this.#stats.gzipped++;
  }

  /** Reopens `N.log` for every file whose reopen is due (all of them when `now`). */
  async #finishReopens(now: boolean): Promise<void> {
    for (const state of [...this.#pendingReopens]) {
      if (!now && performance.now() < state.reopenAtMs) continue;
      if (now) {
        const waitMs = state.reopenAtMs - performance.now();
        if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
      const path = join(this.#options.root, state.file.relPath);
      const handle = await Deno.open(path, { append: true, create: true });
      state.handle.close();
      state.handle = handle;
      state.reopenWindows[state.reopenWindows.length - 1].toNs = this.#nowNs();
      state.sizeBytes = 0;
      this.#pendingReopens.delete(state);
    }
  }
}
