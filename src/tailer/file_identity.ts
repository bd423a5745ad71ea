/**
 * File identity: (dev, inode) plus a hash of the file's first bytes, and a guard hash of the bytes just
 * before a cursor offset. Inode numbers are reused by the filesystem as soon as a file is deleted, so
 * (dev, inode) alone would resume a brand-new file at an old offset; the head fingerprint catches that,
 * and the guard hash catches a file truncated and rewritten past the old offset while we were away.
 *
 * @module
 */

/** Number of bytes before the cursor offset covered by the guard hash. */
export const GUARD_BYTES = 64;

/** A fingerprint: the hash of the first `length` bytes of a file. */
export interface Fingerprint {
  readonly length: number;
  readonly hash: string;
}

/** `dev:ino`, the key under which a file's cursor is stored. */
export function identityKey(dev: number, ino: number): string {
  return `${dev}:${ino}`;
}

/**
 * A 64-bit FNV-1a hash of `bytes` as 16 hex chars, computed with two 32-bit halves (no BigInt on the
 * path). Not cryptographic: it tells files apart, it does not resist an adversary.
 */
export function hashBytes(bytes: Uint8Array): string {
  let h1 = 0x811c9dc5;
  let h2 = 0xcbf29ce4;
  for (let i = 0; i < bytes.length; i++) {
    h1 = Math.imul(h1 ^ bytes[i], 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ bytes[i] ^ (i & 0xff), 0x01000193) >>> 0;
  }
  return h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0");
}

/** Reads up to `length` bytes at `position` from an open file, restoring its read position. */
export function readAt(file: Deno.FsFile, position: number, length: number, restoreTo: number): Uint8Array {
  const out = new Uint8Array(length);
  let filled = 0;
  file.seekSync(position, Deno.SeekMode.Start);
  try {
    while (filled < length) {
      const n = file.readSync(out.subarray(filled));
      if (n === null || n === 0) break;
      filled += n;
    }
  } finally {
    file.seekSync(restoreTo, Deno.SeekMode.Start);
  }
  return out.subarray(0, filled);
}

/** The fingerprint of the first `maxBytes` bytes of an open file (shorter while the file is smaller). */
export function fingerprintOf(file: Deno.FsFile, maxBytes: number, restoreTo: number): Fingerprint {
  const head = readAt(file, 0, maxBytes, restoreTo);
  return { length: head.length, hash: hashBytes(head) };
}

/** The guard hash of the bytes right before `offset` (empty string at offset 0). */
export function guardHashAt(file: Deno.FsFile, offset: number, restoreTo: number): string {
  if (offset === 0) return "";
  const start = Math.max(0, offset - GUARD_BYTES);
  const bytes = readAt(file, start, offset - start, restoreTo);
  if (bytes.length !== offset - start) return "short";
  return hashBytes(bytes);
}
