/**
 * Writes kubelet-style container logs for tests, the demo and benches: `<root>/<ns>_<pod>_<uid>/<ctr>/<n>.log`
 * in CRI format, long records split into P pieces (at arbitrary byte positions, as runtimes do), and
 * rename rotation (`0.log` -> `0.log.<YYYYMMDD-HHMMSS>`) with the writer keeping the old descriptor.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Identity of one container's log directory. */
export interface ContainerSpec {
  namespace: string;
  pod: string;
  uid: string;
  container: string;
  /** `<n>.log`. @default 0 */
  restart?: number;
}

/** A CRI line as bytes: `<ts> <stream> <tag> <body>\n`. */
export function criLine(
  time: Date,
  stream: "stdout" | "stderr",
  tag: string,
  body: Uint8Array | string,
): Uint8Array {
  const iso = time.toISOString().replace("Z", "000000Z"); // 9 fraction digits like containerd
  const head = encoder.encode(`${iso} ${stream} ${tag} `);
  const bodyBytes = typeof body === "string" ? encoder.encode(body) : body;
  const out = new Uint8Array(head.length + bodyBytes.length + 1);
  out.set(head);
  out.set(bodyBytes, head.length);
  out[out.length - 1] = 10;
  return out;
}

/** A deterministic UUID-looking string from a number. */
export function fakeUid(n: number): string {
  const h = (n * 2654435761 >>> 0).toString(16).padStart(8, "0");
  return `${h}-0000-4000-8000-${String(n).padStart(12, "0")}`;
}

/** Appends CRI lines to one container's log and rotates it like kubelet. */
export class ContainerLog {
  readonly dir: string;
  readonly spec: ContainerSpec;
  #file: Deno.FsFile;
  #path: string;
  #bytesWritten = 0;
  #rotations = 0;
  /** Records written (one per F or per P..F run). */
  records = 0;

  constructor(root: string, spec: ContainerSpec) {
    this.spec = spec;
    this.dir = `${root}/${spec.namespace}_${spec.pod}_${spec.uid}/${spec.container}`;
    Deno.mkdirSync(this.dir, { recursive: true });
    this.#path = `${this.dir}/${spec.restart ?? 0}.log`;
    this.#file = Deno.openSync(this.#path, { append: true, create: true });
  }

  /** The current (unrotated) log path. */
  get path(): string {
    return this.#path;
  }

  /** Bytes written to the current file. */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /** Rotations done. */
  get rotations(): number {
    return this.#rotations;
  }

  /** Writes raw bytes (for malformed input). */
  writeRaw(bytes: Uint8Array | string): void {
    const b = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
    this.#file.writeSync(b);
    this.#bytesWritten += b.length;
  }

  /**
   * Writes one record: a single F line, or P pieces cut at the given byte positions and a final F.
   * `cuts` are byte offsets into the UTF-8 body (they may split a character, as runtimes do).
   */
  write(stream: "stdout" | "stderr", body: string, cuts: number[] = [], time = new Date()): void {
    const bytes = encoder.encode(body);
    const parts: Uint8Array[] = [];
    let prev = 0;
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      if (cut <= prev || cut >= bytes.length) continue;
      parts.push(criLine(time, stream, "P", bytes.subarray(prev, cut)));
      prev = cut;
    }
    parts.push(criLine(time, stream, "F", bytes.subarray(prev)));
    let total = 0;
    for (const p of parts) total += p.length;
    const all = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    this.#file.writeSync(all);
    this.#bytesWritten += all.length;
    this.records++;
  }

  /**
   * Renames the current file to `<n>.log.<timestamp>` and opens a new `<n>.log`. When `keepOldOpen`,
   * returns the old descriptor so a test can keep writing to it (containerd writes a moment longer).
   */
  rotate(options: { keepOldOpen?: boolean } = {}): { rotatedPath: string; oldFile: Deno.FsFile | null } {
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
    let rotatedPath = `${this.#path}.${stamp}`;
    for (let i = 1; existsSync(rotatedPath); i++) rotatedPath = `${this.#path}.${stamp}.${i}`;
    Deno.renameSync(this.#path, rotatedPath);
    const old = this.#file;
    this.#file = Deno.openSync(this.#path, { append: true, create: true });
    this.#bytesWritten = 0;
    this.#rotations++;
    if (options.keepOldOpen) return { rotatedPath, oldFile: old };
    old.close();
    return { rotatedPath, oldFile: null };
  }

  /** Truncates the current file to 0 bytes in place (copytruncate). */
  truncate(): void {
    this.#file.truncateSync(0);
    this.#bytesWritten = 0;
  }

  close(): void {
    try {
      this.#file.close();
    } catch {
      // Already closed.
    }
  }
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
