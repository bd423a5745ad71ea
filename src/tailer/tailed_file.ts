/**
 * The reader of one file identity: its descriptor, offsets, line state (carry and long lines) and its
 * {@linkcode FileAssembly}. Its state changes only through named transitions (opened, released,
 * rotated, read, reached EOF, restarted from 0, quarantined, finished); the file table and the read loop
 * call them and read the rest through getters. Reading yields byte chunks `{file, offset, bytes}`;
 * records are made by the assembler, not here.
 *
 * @module
 */

import type { FileAssembly } from "../assemble/mod.ts";
import type { FileState, PodLogPath } from "../record.ts";
import { type Fingerprint, identityKey } from "./file_identity.ts";
import { LineSplitter } from "./line_splitter.ts";

/**
 * Where a file is in its life: `waiting` for a descriptor (never opened, or released at the cap or after
 * `tail.close_inactive`: reopened from its offset when it grows), `active` (open), `closed` (drained).
 */
export type TailedFileState = "waiting" | "active" | "closed";

/** One read: `bytes` (the carry, then what was read) start at file offset `offset`. */
export interface ReadChunk {
  readonly file: TailedFile;
  readonly offset: number;
  /** A view into the shared read buffer: valid until the next read. */
  readonly bytes: Uint8Array;
  /** Bytes new in this read (after the carry). */
  readonly readBytes: number;
}

/** What a read found. */
export type ReadOutcome =
  | { kind: "chunk"; chunk: ReadChunk }
  | { kind: "eof"; shouldCheckTruncation: boolean }
  | { kind: "error"; error: unknown };

/** The state of one tailed file identity. */
export class TailedFile {
  readonly key: string;
  readonly dev: number;
  readonly ino: number;
  /** The path the file was found at (kept after rotation: it names the container's log). */
  readonly originalPath: string;
  readonly podPath: PodLogPath | null;
  readonly assembly: FileAssembly;
  /** Carry and long-line state between reads; owns `consumedOffset`. */
  readonly lines: LineSplitter;
  #currentPath: string;
  #file: Deno.FsFile | null = null;
  #state: TailedFileState = "waiting";
  #fingerprint: Fingerprint = { length: 0, hash: "" };
  #readPosition: number;
  #lastSizeBytes: number;
  #wantsRead = true;
  #needsStat = false;
  #isAtEof = false;
  #isRotated = false;
  #rotatedAtMs = 0;
  #lastDataMs: number;
  #lastPollMs = 0;
  #wasOpened = false;
  #openedAtMs = 0;
  #waitingSinceMs: number | null;
  #quarantinedUntilMs = 0;
  #quarantineBackoffMs = 0;
  #gatedUntilMs = 0;
  #committedOffset = -1;
  #committedFingerprintLength = -1;
  #committedGuardHash = "";

  constructor(init: {
    dev: number;
    ino: number;
    path: string;
    podPath: PodLogPath | null;
    offset: number;
    sizeBytes: number;
    assembly: FileAssembly;
    /** Bytes kept of a line longer than the read buffer. */
    maxLineHeadBytes: number;
    nowMs: number;
  }) {
    this.dev = init.dev;
    this.ino = init.ino;
    this.key = identityKey(init.dev, init.ino);
    this.originalPath = init.path;
    this.#currentPath = init.path;
    this.podPath = init.podPath;
    this.lines = new LineSplitter({ maxLineHeadBytes: init.maxLineHeadBytes, offset: init.offset });
    this.#readPosition = init.offset;
    this.#lastSizeBytes = init.sizeBytes;
    this.assembly = init.assembly;
    this.#lastDataMs = init.nowMs;
    this.#waitingSinceMs = init.nowMs;
  }

  // ---- what the file is -----------------------------------------------------------------------

  /** Where the file is now, as far as we know (the rotated name after a rename). */
  get currentPath(): string {
    return this.#currentPath;
  }
  get file(): Deno.FsFile | null {
    return this.#file;
  }
  get state(): TailedFileState {
    return this.#state;
  }
  get fingerprint(): Fingerprint {
    return this.#fingerprint;
  }
  /** Offset of the first byte not yet turned into lines. */
  get consumedOffset(): number {
    return this.lines.consumedOffset;
  }
  /** Offset of the next byte to read. */
  get readPosition(): number {
    return this.#readPosition;
  }
  get lastSizeBytes(): number {
    return this.#lastSizeBytes;
  }
  get wantsRead(): boolean {
    return this.#wantsRead;
  }
  get isAtEof(): boolean {
    return this.#isAtEof;
  }
  get isRotated(): boolean {
    return this.#isRotated;
  }
  get rotatedAtMs(): number {
    return this.#rotatedAtMs;
  }
  get lastDataMs(): number {
    return this.#lastDataMs;
  }
  get lastPollMs(): number {
    return this.#lastPollMs;
  }
  /** True once the file was opened (a waiting file that was opened before gave its descriptor up). */
  get wasOpened(): boolean {
    return this.#wasOpened;
  }
  /** When the file last got its descriptor. */
  get openedAtMs(): number {
    return this.#openedAtMs;
  }
  /** Since when the file waits for a descriptor with bytes to read (null when not waiting). */
  get waitingSinceMs(): number | null {
    return this.#waitingSinceMs;
  }
  get quarantinedUntilMs(): number {
    return this.#quarantinedUntilMs;
  }
  get gatedUntilMs(): number {
    return this.#gatedUntilMs;
  }
  /** The last cursor offset written (-1 before the first). */
  get committedOffset(): number {
    return this.#committedOffset;
  }
  get committedFingerprintLength(): number {
    return this.#committedFingerprintLength;
  }
  /** Guard hash of the last committed offset (kept for files already closed). */
  get committedGuardHash(): string {
    return this.#committedGuardHash;
  }

  /** Bytes known to be in the file and not yet read. */
  unreadBytes(): number {
    return Math.max(0, this.#lastSizeBytes - this.#readPosition);
  }

  /** The lowest offset this file still needs, ignoring exports (carry, long line, pending pieces). */
  localFrontier(): number {
    return Math.min(this.consumedOffset, this.assembly.pendingStartOffset());
  }

  /** Bytes this file holds in memory: carry, long-line head, stitch pieces. */
  heldBytes(): number {
    return this.lines.heldBytes() + this.assembly.pendingBytes();
  }

  /** A live file with nothing left to read or assemble right now. */
  isCaughtUp(): boolean {
    return this.#isAtEof && !this.#wantsRead && this.lines.isEmpty() &&
      this.assembly.pendingStartOffset() === Infinity;
  }

  /** The file's state as `/status` shows it. */
  status(nowMs: number): FileState {
    if (this.#quarantinedUntilMs > nowMs) return "quarantined";
    if (this.#state === "active") return this.#isRotated ? "rotated_draining" : "reading";
    if (this.#state === "waiting" && this.#wasOpened && this.#waitingSinceMs === null) return "idle_closed";
    return "waiting_for_descriptor";
  }

  // ---- transitions: descriptors and names --------------------------------------------------------

  /** The file table found the identity under `path`. */
  movedTo(path: string): void {
    this.#currentPath = path;
  }

  /** A scan saw the file at `sizeBytes`. */
  observedSize(sizeBytes: number, nowMs: number): void {
    this.#lastSizeBytes = sizeBytes;
    if (sizeBytes > this.#readPosition) this.#wantsRead = true;
    if (this.#state === "waiting" && this.#wantsRead) this.#waitingSinceMs ??= nowMs;
  }

  /** A watch event named the file: read it, and at EOF check for an in-place truncation. */
  notified(): void {
    this.#wantsRead = true;
    this.#needsStat = true;
  }

  /** Polled without a watcher: read again (an in-place truncation is left to the periodic scan's stat). */
  pollRequested(): void {
    this.#wantsRead = true;
  }

  /** A released file wants reading again: it now waits for a descriptor. */
  startWaiting(nowMs: number): void {
    if (this.#state === "waiting" && this.#wantsRead && this.#waitingSinceMs === null) {
      this.#waitingSinceMs = nowMs;
    }
  }

  /**
   * Got its descriptor, positioned at the read position. `isNewHead`: the inode holds another file's head
   * now (re-identified on reopen), so it is read as a new file from 0.
   */
  opened(file: Deno.FsFile, fingerprint: Fingerprint, isNewHead: boolean, nowMs: number): void {
    if (isNewHead) {
      this.#readPosition = 0;
      this.lines.reset(0);
    }
    this.#file = file;
    this.#state = "active";
    this.#wasOpened = true;
    this.#openedAtMs = nowMs;
    this.#waitingSinceMs = null;
    this.#fingerprint = fingerprint;
    file.seekSync(this.#readPosition, Deno.SeekMode.Start);
    this.#wantsRead = true;
    this.#isAtEof = false;
  }

  /** Closes the descriptor if there is one; true when one was closed. */
  closeDescriptor(): boolean {
    if (this.#file === null) return false;
    try {
      this.#file.close();
    } catch {
      // Already closed: nothing left to release.
    }
    this.#file = null;
    return true;
  }

  /** Gives the descriptor up (the caller closed it); waits from its offset until it has bytes to read. */
  released(nowMs: number): void {
    this.#state = "waiting";
    this.#waitingSinceMs = this.#wantsRead || !this.lines.isEmpty() ? nowMs : null;
  }

  /** Kubelet renamed it (or it was found renamed): drain it. False when it was already rotated. */
  rotated(nowMs: number): boolean {
    if (this.#isRotated) return false;
    this.#isRotated = true;
    this.#rotatedAtMs = nowMs;
    this.#wantsRead = true;
    if (this.#state === "waiting") this.#waitingSinceMs ??= nowMs;
    return true;
  }

  /** Read to its end and closed (the caller flushed and closed it). */
  finished(): void {
    this.#state = "closed";
  }

  /** Resumed at a stored cursor. */
  resumedAt(committed: { offset: number; fingerprintLength: number; guardHash: string }): void {
    this.#committedOffset = committed.offset;
    this.#committedFingerprintLength = committed.fingerprintLength;
    this.#committedGuardHash = committed.guardHash;
  }

  /** A cursor commit wrote `offset` with `guardHash` and the head `fingerprint` it saw. */
  committed(offset: number, guardHash: string, fingerprint: Fingerprint): void {
    this.#committedOffset = offset;
    // A truncation during the commit replaced the fingerprint: the stored one is stale, commit again.
    this.#committedFingerprintLength = this.#fingerprint === fingerprint ? fingerprint.length : -1;
    this.#committedGuardHash = guardHash;
  }

  /** The head fingerprint grew with the file. */
  headGrew(fingerprint: Fingerprint): void {
    this.#fingerprint = fingerprint;
  }

  // ---- transitions: reading --------------------------------------------------------------------

  /**
   * Reads one chunk into `buf` (after the carry). The read is synchronous: discovery admits regular
   * files only, and a read of a local regular file is a page-cache copy of at most one buffer (~0.1 ms
   * for 1 MiB), where an async read costs a thread hand-off per call: at a poll of 20 files every 100 ms
   * that hand-off was most of the idle-to-busy cost of the read loop (bench/RESULTS.md).
   */
  read(buf: Uint8Array, nowMs: () => number): ReadOutcome {
    const carryLength = this.lines.prefill(buf);
    this.#wantsRead = false;
    let n: number | null;
    try {
      n = this.#file!.readSync(buf.subarray(carryLength));
    } catch (error) {
      return { kind: "error", error };
    }
    if (n === null || n === 0) {
      this.#isAtEof = true;
      const shouldCheckTruncation = this.#needsStat;
      this.#needsStat = false;
      return { kind: "eof", shouldCheckTruncation };
    }
    // A short read of a regular file means we reached its end: skip the extra read that would say so.
    const isShortRead = n < buf.length - carryLength;
    this.#isAtEof = isShortRead;
    if (!isShortRead) this.#wantsRead = true;
    this.#lastDataMs = nowMs();
    this.#readPosition += n;
    if (this.#readPosition > this.#lastSizeBytes) this.#lastSizeBytes = this.#readPosition;
    return {
      kind: "chunk",
      chunk: {
        file: this,
        offset: this.consumedOffset,
        bytes: buf.subarray(0, carryLength + n),
        readBytes: n,
      },
    };
  }

  /** Truncated in place (or its guard hash no longer matches): read again from 0 with the new head. */
  restartedFromZero(fingerprint: Fingerprint | null): void {
    this.lines.reset(0);
    this.#readPosition = 0;
    this.#isAtEof = false;
    this.#wantsRead = true;
    this.#file?.seekSync(0, Deno.SeekMode.Start);
    if (fingerprint !== null) this.#fingerprint = fingerprint;
    this.#committedFingerprintLength = -1;
  }

  /** A rotated file at EOF was polled at `sizeBytes`: read on when it grew. */
  polled(sizeBytes: number, nowMs: number): void {
    this.#lastPollMs = nowMs;
    if (sizeBytes > this.#readPosition) {
      this.#wantsRead = true;
      this.#isAtEof = false;
    }
  }

  /** The unread rest up to `sizeBytes` is given up (counted as lost by the caller). */
  skippedTo(sizeBytes: number): void {
    this.lines.reset(sizeBytes);
    this.#readPosition = sizeBytes;
  }

  /** The read gate said: not before `untilMs`. */
  gatedUntil(untilMs: number): void {
    this.#gatedUntilMs = untilMs;
  }

  /** An unexpected error: set aside with a doubling backoff; returns the backoff. */
  quarantined(nowMs: number, firstMs: number, maxMs: number): number {
    this.#quarantineBackoffMs = Math.min(
      maxMs,
      this.#quarantineBackoffMs === 0 ? firstMs : this.#quarantineBackoffMs * 2,
    );
    this.#quarantinedUntilMs = nowMs + this.#quarantineBackoffMs;
    this.#wantsRead = true;
    return this.#quarantineBackoffMs;
  }

  /** A read went through: the quarantine backoff starts over. */
  readSucceeded(): void {
    this.#quarantineBackoffMs = 0;
  }
}
