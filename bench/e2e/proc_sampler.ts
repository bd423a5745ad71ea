/**
 * Samples a process's CPU time and memory from /proc (Linux): user+sys ticks from `/proc/<pid>/stat`
 * (converted with `getconf CLK_TCK`), VmRSS and VmHWM from `/proc/<pid>/status`. Child processes are
 * included, so a wrapper that forks the real worker cannot hide it.
 *
 * @module
 */

/** One reading of a process tree. */
export interface ProcSample {
  /** `performance.now()` when read. */
  atMs: number;
  /** User + system CPU seconds of the process and its live descendants. */
  cpuSec: number;
  /** Resident memory of the process and its descendants, in bytes. */
  rssBytes: number;
  /** Peak resident memory (VmHWM) of the process itself, in bytes. */
  hwmBytes: number;
  threads: number;
  /** Number of processes read (1 unless the process has children). */
  processes: number;
}

/** A summary of the samples between two moments. */
export interface SampleWindow {
  durationSec: number;
  cpuSec: number;
  /** CPU time over wall time, in percent of one core. */
  cpuPercentOfCore: number;
  avgRssBytes: number;
  maxRssBytes: number;
  hwmBytes: number;
}

/** Options for {@linkcode ProcSampler}. */
export interface ProcSamplerOptions {
  /** Time between samples. @default 250 */
  intervalMs?: number;
  /** Clock ticks per second, from {@linkcode clockTicksPerSec}. @default 100 */
  ticksPerSec?: number;
}

/** Clock ticks per second of this kernel (`getconf CLK_TCK`). */
export async function clockTicksPerSec(): Promise<number> {
  const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped", stderr: "null" })
    .output();
  const ticks = Number(new TextDecoder().decode(out.stdout).trim());
  if (!out.success || !Number.isInteger(ticks) || ticks <= 0) {
    throw new Error(`Cannot read the clock tick rate: getconf CLK_TCK printed "${ticks}"`);
  }
  return ticks;
}

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined; // the process exited between listing and reading: it contributes nothing
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: Iterable<Deno.DirEntry>;
  try {
    tasks = Deno.readDirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const task of tasks) {
    const text = readText(`/proc/${pid}/task/${task.name}/children`);
    if (text === undefined) continue;
    for (const child of text.trim().split(/\s+/)) if (child !== "") out.push(Number(child));
  }
  return out;
}

function statusKb(status: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
  return m === null ? 0 : Number(m[1]);
}

/**
 * Reads one sample of `pid` and (unless `includeChildren` is false) its descendants, or `undefined` when
 * `pid` is gone.
 */
export function readProcSample(
  pid: number,
  ticksPerSec: number,
  includeChildren = true,
): ProcSample | undefined {
  const atMs = performance.now();
  let ticks = 0;
  let rssKb = 0;
  let hwmKb = 0;
  let threads = 0;
  let processes = 0;
  const pending = [pid];
  while (pending.length > 0) {
    const p = pending.pop()!;
    const stat = readText(`/proc/${p}/stat`);
    const status = readText(`/proc/${p}/status`);
    if (stat === undefined || status === undefined) {
      if (p === pid) return undefined;
      continue;
    }
    // Fields after the parenthesised command name (which may hold spaces): utime is 14th, stime 15th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]);
    rssKb += statusKb(status, "VmRSS");
    if (p === pid) hwmKb = statusKb(status, "VmHWM");
    threads += Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    processes++;
    if (includeChildren) pending.push(...childrenOf(p));
  }
  return {
    atMs,
    cpuSec: ticks / ticksPerSec,
    rssBytes: rssKb * 1024,
    hwmBytes: hwmKb * 1024,
    threads,
    processes,
  };
}

/** Samples a process at a fixed interval; keeps every sample (a few per second). */
export class ProcSampler implements Disposable {
  readonly pid: number;
  #ticksPerSec: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #samples: ProcSample[] = [];

  constructor(pid: number, options: ProcSamplerOptions = {}) {
    this.pid = pid;
    this.#ticksPerSec = options.ticksPerSec ?? 100;
    this.sample();
    this.#timer = setInterval(() => this.sample(), options.intervalMs ?? 250);
  }

  /** Takes a sample now (also call it at the moments a window starts or ends). */
  sample(): ProcSample | undefined {
    const s = readProcSample(this.pid, this.#ticksPerSec);
    if (s !== undefined) this.#samples.push(s);
    return s;
  }

  /** Every sample so far. */
  get samples(): readonly ProcSample[] {
    return this.#samples;
  }

  /** The last sample taken. */
  get latest(): ProcSample | undefined {
    return this.#samples[this.#samples.length - 1];
  }

  /** CPU, RSS and peak between two samples (inclusive). */
  window(from: ProcSample, to: ProcSample): SampleWindow {
    const inside = this.#samples.filter((s) => s.atMs >= from.atMs && s.atMs <= to.atMs);
    const durationSec = (to.atMs - from.atMs) / 1000;
    const cpuSec = to.cpuSec - from.cpuSec;
    const rss = inside.map((s) => s.rssBytes);
    return {
      durationSec,
      cpuSec,
      cpuPercentOfCore: durationSec > 0 ? (100 * cpuSec) / durationSec : 0,
      avgRssBytes: rss.length > 0 ? rss.reduce((a, b) => a + b, 0) / rss.length : 0,
      maxRssBytes: rss.length > 0 ? Math.max(...rss) : 0,
      hwmBytes: to.hwmBytes,
    };
  }

  /** Stops sampling. Idempotent. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  [Symbol.dispose](): void {
    this.stop();
  }
}
