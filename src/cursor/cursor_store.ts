/**
 * Durable per-file cursors in Deno KV.
 *
 * Crash safety, step by step:
 * 1. A cursor holds the lowest byte offset of its file whose record is not yet done (acknowledged or
 *    deliberately dropped). Offsets only ever describe delivered data, never data merely read.
 * 2. All changes of one flush interval are written in one atomic commit (chunks of at most 1000 mutations,
 *    the KV limit); KV fsyncs each commit, so after a kill -9 the store holds either the previous or the
 *    new cursors of a chunk, never a torn value.
 * 3. On restart the agent resumes each file at its stored offset: anything delivered after the last
 *    commit is sent again (at-least-once), nothing undelivered is skipped.
 * 4. Keys are versioned (`v1`), so a future layout can live beside this one and migrate.
 *
 * @module
 */

/** What is stored per file identity. */
export interface CursorValue {
  /** The path the file had when last seen (rotation renames it; identity is what matters). */
  path: string;
  dev: number;
  ino: number;
  /** Lowest byte offset not yet done. */
  offset: number;
  fingerprintLength: number;
  fingerprintHash: string;
  /** Hash of the bytes right before `offset` ("" at 0). */
  guardHash: string;
  /** File size when this cursor was written (to estimate loss if the file is gone on restart). */
  sizeBytes: number;
  /** True once the file was read to its end after rotation and closed. */
  isDrained: boolean;
  updatedAtMs: number;
}

/** Why a commit failed. */
export class CursorWriteError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CursorWriteError";
  }
}

const PREFIX = ["cursor", "v1"] as const;
const MAX_MUTATIONS_PER_ATOMIC = 1000;

/** Options for {@linkcode CursorStore}. */
export interface CursorStoreOptions {
  /** An open KV handle; the caller opens and closes it. */
  kv: Deno.Kv;
}

/** Loads and commits cursors keyed by file identity (`dev:ino`). */
export class CursorStore {
  #kv: Deno.Kv;

  constructor(options: CursorStoreOptions) {
    this.#kv = options.kv;
  }

  /** Every stored cursor, keyed by identity key. */
  async loadAll(): Promise<Map<string, CursorValue>> {
    const out = new Map<string, CursorValue>();
    for await (const entry of this.#kv.list<CursorValue>({ prefix: [...PREFIX] })) {
      const key = entry.key[PREFIX.length];
      if (typeof key === "string" && isCursorValue(entry.value)) out.set(key, entry.value);
    }
    return out;
  }

  /**
   * Writes `changes` (a null value deletes the cursor) in atomic chunks of at most 1000 mutations.
   *
   * @throws {CursorWriteError} when KV rejects a commit (disk full, permissions, closed handle)
   */
  async commit(changes: ReadonlyMap<string, CursorValue | null>): Promise<void> {
    const entries = [...changes];
    for (let i = 0; i < entries.length; i += MAX_MUTATIONS_PER_ATOMIC) {
      const atomic = this.#kv.atomic();
      for (const [key, value] of entries.slice(i, i + MAX_MUTATIONS_PER_ATOMIC)) {
        if (value === null) atomic.delete([...PREFIX, key]);
        else atomic.set([...PREFIX, key], value);
      }
      let result: Deno.KvCommitResult | Deno.KvCommitError;
      try {
        result = await atomic.commit();
      } catch (cause) {
        throw new CursorWriteError(`Cannot commit ${entries.length} cursors: ${String(cause)}`, { cause });
      }
      if (!result.ok) throw new CursorWriteError(`Cannot commit ${entries.length} cursors: check failed`);
    }
  }
}

function isCursorValue(value: unknown): value is CursorValue {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.offset === "number" && typeof v.dev === "number" && typeof v.ino === "number" &&
    typeof v.path === "string" && typeof v.fingerprintHash === "string";
}
