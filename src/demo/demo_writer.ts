/**
 * The demo's kubelet imitation: appends CRI lines to `<root>/<ns>_<pod>_<uid>/<ctr>/<n>.log`, splits
 * long records into P pieces at given byte offsets (inside multibyte characters too, as runtimes do),
 * and rotates by rename like kubelet. A container restart (after an OOM kill) continues in `<n+1>.log`.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Identity of one container's log directory. */
export interface DemoContainer {
  namespace: string;
  pod: string;
  uid: string;
  container: string;
}

/** Appends CRI lines to one container's log and rotates it. */
export class DemoLogWriter {
  readonly spec: DemoContainer;
  readonly dir: string;
  #restart = 0;
  #file: Deno.FsFile;
  #bytes = 0;
  rotations = 0;

  constructor(root: string, spec: DemoContainer) {
    this.spec = spec;
    this.dir = `${root}/${spec.namespace}_${spec.pod}_${spec.uid}/${spec.container}`;
    Deno.mkdirSync(this.dir, { recursive: true });
    this.#file = this.#open();
  }

  #open(): Deno.FsFile {
    return Deno.openSync(`${this.dir}/${this.#restart}.log`, { append: true, create: true });
  }

  /** Bytes in the current file. */
  get bytesWritten(): number {
    return this.#bytes;
  }

  /** Writes one record: P pieces cut at `cuts` (byte offsets) and a final F line. */
  write(stream: "stdout" | "stderr", body: string, cuts: readonly number[] = []): void {
    const bytes = encoder.encode(body);
    const stamp = new Date().toISOString().replace("Z", "000000Z");
    const lines: Uint8Array[] = [];
    let prev = 0;
    for (const cut of cuts) {
      if (cut <= prev || cut >= bytes.length) continue;
      lines.push(line(stamp, stream, "P", bytes.subarray(prev, cut)));
      prev = cut;
    }
    lines.push(line(stamp, stream, "F", bytes.subarray(prev)));
    for (const l of lines) {
      this.#file.writeSync(l);
      this.#bytes += l.length;
    }
  }

  /** Kubelet rotation: rename `<n>.log` to `<n>.log.<stamp>` and start a new `<n>.log`. */
  rotate(): void {
    // Kubelet names rotated files `<n>.log.20060102-150405`; the demo rotates several times a second, so it
    // adds milliseconds the way the agent's rotated-name pattern accepts (`.<digits>`).
    const iso = new Date().toISOString(); // 2024-05-01T12:00:00.123Z
    const stamp = `${iso.slice(0, 10).replace(/-/g, "")}-${iso.slice(11, 19).replace(/:/g, "")}.${
      iso.slice(20, 23)
    }`;
    this.#file.close();
    Deno.renameSync(`${this.dir}/${this.#restart}.log`, `${this.dir}/${this.#restart}.log.${stamp}`);
    this.#file = this.#open();
    this.#bytes = 0;
    this.rotations++;
  }

  /** The container restarted (e.g. after an OOM kill): later lines go to `<n+1>.log`. */
  restart(): void {
    this.#file.close();
    this.#restart++;
    this.#file = this.#open();
    this.#bytes = 0;
  }

  close(): void {
    try {
      this.#file.close();
    } catch {
      // Already closed.
    }
  }
}

function line(stamp: string, stream: string, tag: string, body: Uint8Array): Uint8Array {
  const head = encoder.encode(`${stamp} ${stream} ${tag} `);
  const out = new Uint8Array(head.length + body.length + 1);
  out.set(head);
  out.set(body, head.length);
  out[out.length - 1] = 0x0a;
  return out;
}
