/**
 * Finds the log files to tail. The periodic scan (a directory walk of the include globs plus a stat of
 * each match) is the source of truth; one recursive `Deno.watchFs` per root only wakes the agent early.
 * The watcher is lossy by design (a 16-slot channel, `rescan` flags, files created right after
 * `mkdir -p` often unreported, the inotify watch limit ends it), so every one of its failures falls back
 * to scans, is counted, and the watcher is recreated later.
 *
 * @module
 */

import { abortableDelay } from "../lifecycle/abortable_delay.ts";
import { parsePodLogPath } from "./pod_log_path.ts";
import { type CompiledGlob, compileGlob, compileNamePattern } from "./glob.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import { type Logger, toError } from "../telemetry/log.ts";

/** A file found by a scan. */
export interface FoundFile {
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  readonly sizeBytes: number;
  readonly mtimeMs: number;
}

/** A path the include globs match whose symlinked target lies outside the allowed roots. */
export interface RefusedFile {
  readonly path: string;
  /** The resolved target. */
  readonly target: string;
  readonly reason: "symlink_outside_roots";
}

/** Options for {@linkcode Discovery}. */
export interface DiscoveryOptions {
  include: readonly string[];
  exclude: readonly string[];
  namespacesInclude: readonly string[];
  namespacesExclude: readonly string[];
  metrics: AgentMetrics;
  logger: Logger;
  /** Wait before recreating a failed watcher. @default 5000 */
  watcherRetryMs?: number;
  /**
   * Watch events per second (per root) past which watching stops for `busyPollingMs`: on a busy node every
   * write(2) of every container is an event, and reading open files at a bounded rate is cheaper.
   * @default 200
   */
  maxWatchEventsPerSec?: number;
  /** How long watching stays off once it was too busy; then it is tried again. @default 10000 */
  busyPollingMs?: number;
  /**
   * Directories a matched file (after resolving symlinks) must lie in. @default the static prefixes of
   * `include` plus `/var/log/pods` (so `/var/log/containers/*.log`, symlinks into it, are served)
   */
  allowedRoots?: readonly string[];
}

const ROTATED_NAME = /^\d+\.log\.\d{8}-\d{6}(?:\.\d+)?$/;

/** Walks the include globs and watches their roots. */
export class Discovery {
  #globs: CompiledGlob[];
  #exclude: RegExp[];
  #nsInclude: RegExp[];
  #nsExclude: RegExp[];
  #metrics: AgentMetrics;
  #logger: Logger;
  #watcherRetryMs: number;
  #maxWatchEventsPerSec: number;
  #busyPollingMs: number;
  #watchers = new Set<Deno.FsWatcher>();
  #isWatchHealthy = false;
  #isBusyPolling = false;
  #allowedRoots: string[];
  #refused: RefusedFile[] = [];

  constructor(options: DiscoveryOptions) {
    this.#globs = options.include.map(compileGlob);
    this.#exclude = options.exclude.map((p) => compileGlob(p).whole);
    this.#nsInclude = options.namespacesInclude.map(compileNamePattern);
    this.#nsExclude = options.namespacesExclude.map(compileNamePattern);
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#watcherRetryMs = options.watcherRetryMs ?? 5000;
    this.#maxWatchEventsPerSec = options.maxWatchEventsPerSec ?? 200;
    this.#busyPollingMs = options.busyPollingMs ?? 10_000;
    const roots = options.allowedRoots ?? [...this.#globs.map((g) => g.root), "/var/log/pods"];
    this.#allowedRoots = [...new Set(roots.flatMap((r) => [r, realPathOr(r)]))].map((r) =>
      r.endsWith("/") ? r : `${r}/`
    );
  }

  /** The directories watched: the static prefix of each include glob. */
  roots(): string[] {
    return [...new Set(this.#globs.map((g) => g.root))];
  }

  /** Whether every watcher is running (when not, scans are the only signal). */
  isWatchHealthy(): boolean {
    return this.#isWatchHealthy;
  }

  /** Whether watching is paused because events came faster than they are worth (see `maxWatchEventsPerSec`). */
  isBusyPolling(): boolean {
    return this.#isBusyPolling;
  }

  /** Whether a path passes the exclude and namespace filters. */
  isWanted(path: string): boolean {
    for (const re of this.#exclude) if (re.test(path)) return false;
    if (this.#nsInclude.length === 0 && this.#nsExclude.length === 0) return true;
    const parsed = parsePodLogPath(path);
    if (!parsed.ok) return true;
    const ns = parsed.value.namespace;
    if (this.#nsInclude.length > 0 && !this.#nsInclude.some((re) => re.test(ns))) return false;
    return !this.#nsExclude.some((re) => re.test(ns));
  }

  /** Walks every include glob; returns the wanted regular files with their identity and size. */
  scan(): FoundFile[] {
    return this.scanWithRefusals().found;
  }

  /**
   * Walks every include glob; returns the wanted regular files, and the matches refused because a
   * symlink on their way leads outside the allowed roots (issue 8 defect 5: never followed, never
   * stat'ed, so no read error is counted for them).
   */
  scanWithRefusals(): { found: FoundFile[]; refused: RefusedFile[] } {
    const seen = new Map<string, FoundFile>();
    this.#refused = [];
    for (const glob of this.#globs) this.#walk(glob.root, glob.segments, 0, seen, false);
    return { found: [...seen.values()], refused: this.#refused };
  }

  /** Rotated siblings (`N.log.<timestamp>`, not yet compressed) in the directory `dir`. */
  rotatedSiblings(dir: string): FoundFile[] {
    const out: FoundFile[] = [];
    let entries: Iterable<Deno.DirEntry>;
    try {
      entries = Deno.readDirSync(dir);
      for (const entry of entries) {
        if (!entry.isFile || !ROTATED_NAME.test(entry.name)) continue;
        const found = this.#stat(`${dir}/${entry.name}`);
        if (found !== null) out.push(found);
      }
    } catch (err) {
      // A container directory vanishes with its pod; that is not a read error.
      if (!(err instanceof Deno.errors.NotFound)) this.#countError(err);
    }
    return out;
  }

  /**
   * Runs one recursive watcher per root until `signal` aborts, calling `onWake` with the paths of each
   * event batch (an empty list means "something may have been missed: rescan everything").
   */
  async watch(signal: AbortSignal, onWake: (paths: string[]) => void): Promise<void> {
    await Promise.all(this.roots().map((root) => this.#watchRoot(root, signal, onWake)));
  }

  async #watchRoot(root: string, signal: AbortSignal, onWake: (paths: string[]) => void): Promise<void> {
    while (!signal.aborted) {
      let watcher: Deno.FsWatcher | undefined;
      try {
        watcher = Deno.watchFs(root, { recursive: true });
        this.#watchers.add(watcher);
        const close = (): void => watcher?.close();
        signal.addEventListener("abort", close, { once: true });
        this.#isWatchHealthy = true;
        let isFlooded = false;
        try {
          let windowStartMs = Date.now();
          let eventsInWindow = 0;
          for await (const event of watcher) {
            if (event.flag === "rescan") {
              this.#metrics.rescans.inc(1, "watch_overflow");
              onWake([]);
            } else onWake(event.paths);
            // Runtimes write every line with its own write(2), and inotify reports each one: past a rate
            // the events cost more than they tell (issue 9). Stop watching for a while; the tailer then
            // polls its open files at a bounded rate (cost follows files and bytes, not writes).
            if (++eventsInWindow > this.#maxWatchEventsPerSec) {
              const now = Date.now();
              if (now - windowStartMs < 1000) {
                isFlooded = true;
                break;
              }
              windowStartMs = now;
              eventsInWindow = 0;
            }
          }
        } finally {
          signal.removeEventListener("abort", close);
        }
        if (signal.aborted) return;
        if (isFlooded) {
          this.#isWatchHealthy = false;
          this.#metrics.watcherRestarts.inc(1, "busy_polling");
          this.#logger.limited(
            "info",
            `watch:${root}:busy`,
            "Files change faster than watch events are worth; polling open files for a while",
            {
              root,
              maxEventsPerSec: this.#maxWatchEventsPerSec,
              pollingMs: this.#busyPollingMs,
            },
          );
          // Wake the tailer now: it switches to polling (and rescans at its watcher-down interval).
          this.#isBusyPolling = true;
          onWake([]);
          try {
            await abortableDelay(this.#busyPollingMs, signal);
          } finally {
            this.#isBusyPolling = false;
          }
          continue;
        }
        this.#metrics.watcherRestarts.inc(1, "ended");
      } catch (err) {
        if (signal.aborted) return;
        const error = toError(err);
        const reason = error.name === "NotFound" ? "root_missing" : "error";
        this.#metrics.watcherRestarts.inc(1, reason);
        this.#logger.limited("warn", `watch:${root}:${reason}`, "File watcher failed; scans continue", {
          root,
          error,
        });
      } finally {
        this.#isWatchHealthy = false;
        if (watcher !== undefined) {
          this.#watchers.delete(watcher);
          try {
            watcher.close();
          } catch {
            // Already closed by the abort handler.
          }
        }
      }
      onWake([]);
      await abortableDelay(this.#watcherRetryMs, signal);
    }
  }

  #walk(
    dir: string,
    segments: ReadonlyArray<RegExp | "**">,
    index: number,
    out: Map<string, FoundFile>,
    isViaSymlink: boolean,
  ): void {
    if (index >= segments.length) return;
    const segment = segments[index];
    const isLast = index === segments.length - 1;
    // `**` may match no directory at all: the rest of the pattern then applies right here.
    if (segment === "**" && !isLast) this.#walk(dir, segments, index + 1, out, isViaSymlink);
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) this.#countError(err);
      return;
    }
    for (const entry of entries) {
      const path = dir === "/" ? `/${entry.name}` : `${dir}/${entry.name}`;
      if (segment === "**") {
        if (entry.isDirectory) this.#walk(path, segments, index, out, isViaSymlink);
        else if (isLast) this.#matchFile(path, entry, segments, index, out, isViaSymlink || entry.isSymlink);
        continue;
      }
      if (!segment.test(entry.name)) continue;
      if (isLast) this.#matchFile(path, entry, segments, index, out, isViaSymlink || entry.isSymlink);
      else if (entry.isDirectory || entry.isSymlink) {
        this.#walk(path, segments, index + 1, out, isViaSymlink || entry.isSymlink);
      }
    }
  }

  #matchFile(
    path: string,
    entry: Deno.DirEntry,
    segments: ReadonlyArray<RegExp | "**">,
    index: number,
    out: Map<string, FoundFile>,
    isViaSymlink: boolean,
  ): void {
    if (index !== segments.length - 1) return;
    const segment = segments[index];
    if (segment !== "**" && !segment.test(entry.name)) return;
    if (entry.isDirectory || out.has(path) || !this.isWanted(path)) return;
    if (isViaSymlink) {
      const target = realPathOr(path);
      if (!this.#allowedRoots.some((root) => target.startsWith(root))) {
        this.#refused.push({ path, target, reason: "symlink_outside_roots" });
        return;
      }
    }
    const found = this.#stat(path);
    if (found !== null) out.set(path, found);
  }

  #stat(path: string): FoundFile | null {
    try {
      const info = Deno.statSync(path);
      if (!info.isFile) return null;
      return {
        path,
        dev: info.dev ?? 0,
        ino: info.ino ?? 0,
        sizeBytes: info.size,
        mtimeMs: info.mtime?.getTime() ?? 0,
      };
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) this.#countError(err);
      return null;
    }
  }

  #countError(err: unknown): void {
    const error = toError(err);
    this.#metrics.readErrors.inc(1, error.name);
    this.#logger.limited("warn", `discovery:${error.name}`, "Cannot list or stat a log path", { error });
  }
}

/** The resolved path of `path`, or `path` itself when it cannot be resolved (vanished, dangling). */
function realPathOr(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    return path;
  }
}
