/**
 * One agent per cursor store: an exclusive lock file beside the store, taken before the store is opened.
 *
 * Why, step by step (issue 8, defect 6):
 * 1. Two agents that open one cursor store both read every file from the same cursors and both ship every
 *    line: everything arrives twice. A DaemonSet rolling update with `maxSurge` starts the new pod while
 *    the old one still runs, on the same node and the same hostPath, so this is the normal case.
 * 2. The lock is `flock(2)` (what `Deno.FsFile.tryLock` takes on Linux in Deno 2.9.6, checked in
 *    /proc/locks: `FLOCK ADVISORY WRITE`) on `<cursor path>.lock`. It belongs to the open file
 *    description, so the kernel releases it when the holder closes it, exits or is killed (kill -9
 *    included): a crashed agent never leaves a stale lock behind, and no pid file needs cleaning up.
 * 3. The holder keeps the lock until after its last cursor commit and the store is closed; the waiter
 *    opens the store only once it holds the lock, so it resumes from the final cursors of the old agent:
 *    nothing sent twice, nothing skipped.
 * 4. The waiter polls with a non-blocking try (a blocking `lock()` runs on a thread that cannot be
 *    cancelled, so a waiting agent could not stop on SIGTERM).
 *
 * The holder writes a short JSON note into the lock file (pid, hostname, since) only so that a waiting
 * agent can say who it waits for; the lock itself is the flock, never the file's content.
 *
 * @module
 */

import { abortableDelay } from "../lifecycle/mod.ts";
import { dirname } from "node:path";

/** A cursor lock that could not be taken for a reason other than another holder (path, permissions). */
export class CursorLockError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CursorLockError";
  }
}

/** Who holds the lock, as the holder wrote it into the lock file (best effort, for logs only). */
export interface CursorLockHolder {
  pid?: number;
  hostname?: string;
  sinceMs?: number;
}

/** Options for {@linkcode acquireCursorLock}. */
export interface CursorLockOptions {
  /** Path of the cursor store (the Deno KV file); the lock is `<cursorPath>.lock` beside it. */
  cursorPath: string;
  /** Aborting stops the wait; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Time between two tries while another agent holds the lock. @default 250 */
  pollIntervalMs?: number;
  /** Called once, when the first try finds the lock held by another agent. */
  onWaiting?: (info: { lockPath: string; holder: CursorLockHolder | null }) => void;
  /** Written into the lock file once held. @default the process id and host name */
  holder?: CursorLockHolder;
  /** Clock for `sinceMs`. @default Date.now */
  now?: () => number;
}

/** A held cursor lock. Release it after the cursor store is closed. */
export interface CursorLock extends Disposable {
  /** `<cursorPath>.lock`. */
  readonly lockPath: string;
  /** How long the lock was waited for, in milliseconds (0 when it was free at once). */
  readonly waitedMs: number;
  /** Releases the lock (closes the file); idempotent. */
  release(): void;
}

/** The lock file of a cursor store: `<cursorPath>.lock`. */
export function cursorLockPath(cursorPath: string): string {
  return `${cursorPath}.lock`;
}

/**
 * Takes the exclusive lock beside the cursor store, waiting while another agent holds it. Creates the
 * cursor directory when missing.
 *
 * @example
 * ```ts
 * using lock = await acquireCursorLock({ cursorPath: "/var/lib/containerstdout/cursor.kv" });
 * const kv = await Deno.openKv("/var/lib/containerstdout/cursor.kv");
 * // ... run, then kv.close() before the lock is released
 * ```
 * @throws {CursorLockError} when the directory or the lock file cannot be created or opened
 * @throws the signal's reason when `signal` aborts the wait
 */
export async function acquireCursorLock(options: CursorLockOptions): Promise<CursorLock> {
  const lockPath = cursorLockPath(options.cursorPath);
  const now = options.now ?? Date.now;
  const startedMs = now();
  const signal = options.signal ?? new AbortController().signal;
  const file = await openLockFile(lockPath);
  try {
    let hasReportedWait = false;
    while (!(await file.tryLock(true))) {
      if (!hasReportedWait) {
        hasReportedWait = true;
        options.onWaiting?.({ lockPath, holder: await readHolder(lockPath) });
      }
      signal.throwIfAborted();
      await abortableDelay(options.pollIntervalMs ?? 250, signal);
    }
    signal.throwIfAborted();
  } catch (err) {
    file.close();
    throw err;
  }
  const waitedMs = Math.max(0, now() - startedMs);
  await writeHolder(file, { ...(options.holder ?? defaultHolder()), sinceMs: now() });
  let isReleased = false;
  const release = (): void => {
    if (isReleased) return;
    isReleased = true;
    // Closing the descriptor drops the flock; an explicit unlock first would only open a window in which
    // the file is unlocked but still open.
    file.close();
  };
  return { lockPath, waitedMs, release, [Symbol.dispose]: release };
}

async function openLockFile(lockPath: string): Promise<Deno.FsFile> {
  const dir = dirname(lockPath);
  try {
    await Deno.mkdir(dir, { recursive: true });
    return await Deno.open(lockPath, { read: true, write: true, create: true });
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new CursorLockError(`Cannot open cursor lock: path ${lockPath}: ${detail}`, { cause });
  }
}

function defaultHolder(): CursorLockHolder {
  let hostname: string | undefined;
  try {
    hostname = Deno.hostname();
  } catch {
    hostname = undefined; // not in the permission set: the note just lacks it
  }
  return { pid: Deno.pid, hostname };
}

// The note is informational; failing to write it must not fail the agent (the flock is what counts).
async function writeHolder(file: Deno.FsFile, holder: CursorLockHolder): Promise<void> {
  try {
    await file.truncate(0);
    await file.write(new TextEncoder().encode(JSON.stringify(holder) + "\n"));
  } catch {
    // Best effort by design, see above.
  }
}

async function readHolder(lockPath: string): Promise<CursorLockHolder | null> {
  try {
    const parsed: unknown = JSON.parse(await Deno.readTextFile(lockPath));
    return typeof parsed === "object" && parsed !== null ? parsed as CursorLockHolder : null;
  } catch {
    return null; // empty or being rewritten: the waiter logs without a holder
  }
}
