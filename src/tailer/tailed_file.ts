/**
 * One tailed file identity: its descriptor, offsets, unfinished-line carry, the head of a line longer
 * than the read buffer, and its {@linkcode FileAssembly}. The read loop (tailer.ts) drives it; records
 * are made by the assembler, not here.
 *
 * @module
 */

import type { FileAssembly } from "../assemble/mod.ts";
import type { FileState, PodLogPath } from "../record.ts";
import type { Fingerprint } from "./file_identity.ts";
import { LineSplitter } from "./line_splitter.ts";

/**
 * Where a file is in its life: `waiting` for a descriptor (never opened, or released at the cap or after
 * `tail.close_inactive`: reopened from its offset when it grows), `active` (open), `closed` (drained).
 */
export type TailedFileState = "waiting" | "active" | "closed";

/** The state of one tailed file identity. */
export class TailedFile {
  readonly key: string;
  readonly dev: number;
  readonly ino: number;
  /** The path the file was found at (kept after rotation: it names the container's log). */
  readonly originalPath: string;
  /** Where the file is now, as far as we know (the rotated name after a rename). */
  currentPath: string;
  readonly podPath: PodLogPath | null;
  readonly assembly: FileAssembly;
  file: Deno.FsFile | null = null;
  state: TailedFileState = "waiting";
  fingerprint: Fingerprint = { length: 0, hash: "" };
  /** Carry and long-line state between reads; owns `consumedOffset`. */
  readonly lines: LineSplitter;
  /** Offset of the next byte to read. */
  readPosition: number;
  lastSizeBytes: number;
  wantsRead = true;
  /** A watch event named this file: at EOF, stat it to catch an in-place truncation. */
  needsStat = false;
  isAtEof = false;
  isRotated = false;
  rotatedAtMs = 0;
  lastDataMs = 0;
  /** When a rotated file's size was last polled. */
  lastPollMs = 0;
  /** True once the file was opened (a waiting file that was opened before gave its descriptor up). */
  wasOpened = false;
  /** When the file last got its descriptor. */
  openedAtMs = 0;
  /** Since when the file waits for a descriptor with bytes to read (null when not waiting). */
  waitingSinceMs: number | null = null;
  /** Quarantined until then after an unexpected error (0: not quarantined). */
  quarantinedUntilMs = 0;
  quarantineBackoffMs = 0;
  /** The read gate said: not before then. */
  gatedUntilMs = 0;
  /** The last cursor value written, to skip unchanged commits. */
  committedOffset = -1;
  committedFingerprintLength = -1;
  /** Guard hash of the last committed offset (kept for files already closed). */
  committedGuardHash = "";

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
  }) {
    this.dev = init.dev;
    this.ino = init.ino;
    this.key = `${init.dev}:${init.ino}`;
    this.originalPath = init.path;
    this.currentPath = init.path;
    this.podPath = init.podPath;
    this.lines = new LineSplitter({ maxLineHeadBytes: init.maxLineHeadBytes, offset: init.offset });
    this.readPosition = init.offset;
    this.lastSizeBytes = init.sizeBytes;
    this.assembly = init.assembly;
  }

  /** Offset of the first byte not yet turned into lines. */
  get consumedOffset(): number {
    return this.lines.consumedOffset;
  }

  /** Bytes known to be in the file and not yet read. */
  unreadBytes(): number {
    return Math.max(0, this.lastSizeBytes - this.readPosition);
  }

  /** The lowest offset this file still needs, ignoring exports (carry, long line, pending pieces). */
  localFrontier(): number {
    return Math.min(this.consumedOffset, this.assembly.pendingStartOffset());
  }

  /** Bytes this file holds in memory: carry, long-line head, stitch pieces. */
  heldBytes(): number {
    return this.lines.heldBytes() + this.assembly.pendingBytes();
  }

  /** The file's state as `/status` shows it. */
  status(nowMs: number): FileState {
    if (this.quarantinedUntilMs > nowMs) return "quarantined";
    if (this.state === "active") return this.isRotated ? "rotated_draining" : "reading";
    if (this.state === "waiting" && this.wasOpened && this.waitingSinceMs === null) return "idle_closed";
    return "waiting_for_descriptor";
  }
}
