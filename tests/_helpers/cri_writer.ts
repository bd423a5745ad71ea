/**
 * A writer process for agent-level tests: container log lines with chosen CRI times are appended by a
 * separate `deno` process (one write per line, like a container runtime), not by the test itself.
 *
 * @module
 */

/** One line to append. */
export interface CriWrite {
  /** The log file, e.g. `<root>/<ns>_<pod>_<uid>/<container>/<n>.log`. */
  path: string;
  /** CRI time, ms since the epoch. */
  time: number;
  /** @default "stdout" */
  stream?: "stdout" | "stderr";
  body: string;
}

const CHILD = new URL("./_cri_writer_child.ts", import.meta.url).pathname;

/** A running writer process; `await using` ends it. */
export class CriWriter implements AsyncDisposable {
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #acks: ReadableStreamDefaultReader<string>;
  #pending = "";
  #sent = 0;
  #acked = 0;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    this.#acks = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** Starts a writer allowed to write under `root`. */
  static start(root: string): CriWriter {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", `--allow-read=${root}`, `--allow-write=${root}`, CHILD],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    return new CriWriter(child);
  }

  /** Appends `lines` in order; resolves once the process has written all of them. */
  async write(lines: readonly CriWrite[]): Promise<void> {
    const text = lines.map((l) => JSON.stringify({ stream: "stdout", ...l }) + "\n").join("");
    await this.#stdin.write(new TextEncoder().encode(text));
    this.#sent += lines.length;
    while (this.#acked < this.#sent) {
      const { value, done } = await this.#acks.read();
      if (done) throw new Error(`Writer process ended after ${this.#acked} of ${this.#sent} lines`);
      this.#pending += value;
      let at: number;
      while ((at = this.#pending.indexOf("\n")) >= 0) {
        this.#pending = this.#pending.slice(at + 1);
        this.#acked++;
      }
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#stdin.close();
    while (!(await this.#acks.read()).done) { /* drain */ }
    await this.#child.status;
  }
}
