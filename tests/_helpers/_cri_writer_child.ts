/**
 * The writer process of {@linkcode CriWriter}: reads JSON commands from stdin, one per line,
 * `{ "path": ..., "time": <ms since the epoch>, "stream": "stdout" | "stderr", "body": ... }`, appends
 * each as one CRI line with one write(2) (as container runtimes do), and answers `ok <n>` on stdout after
 * each command. Exits when stdin closes.
 *
 * @module
 */

import { dirname } from "node:path";
import { criLine } from "./kubelet_tree.ts";

const files = new Map<string, Deno.FsFile>();
const out = Deno.stdout.writable.getWriter();
const encoder = new TextEncoder();
let done = 0;
const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let pending = "";
for await (const chunk of lines) {
  pending += chunk;
  let at: number;
  while ((at = pending.indexOf("\n")) >= 0) {
    const command = JSON.parse(pending.slice(0, at)) as {
      path: string;
      time: number;
      stream: "stdout" | "stderr";
      body: string;
    };
    pending = pending.slice(at + 1);
    let file = files.get(command.path);
    if (file === undefined) {
      Deno.mkdirSync(dirname(command.path), { recursive: true });
      file = Deno.openSync(command.path, { append: true, create: true });
      files.set(command.path, file);
    }
    const bytes = criLine(new Date(command.time), command.stream, "F", command.body);
    let written = 0;
    while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
    await out.write(encoder.encode(`ok ${++done}\n`));
  }
}
for (const file of files.values()) file.close();
await out.close();
