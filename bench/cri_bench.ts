/**
 * CRI header parsing: the hand scanner against a regex parser, on a realistic seeded mix of lines.
 *
 * @module
 */

import { parseCriLine } from "../src/cri/mod.ts";
import type { Stream } from "../src/record.ts";
import { VALID_CRI_CASES } from "../tests/cri/cri_cases.ts";
import { seededRandom } from "./_seeded_random.ts";

const random = seededRandom(20240501);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
const WORDS = ["step", "loss", "rank", "allreduce", "epoch", "batch", "grad_norm", "NCCL", "warmup", "ok"];
const MULTIBYTE = ["学習", "ステップ", "é", "✓", "🚀", "Größe", "данные"];

function randomBody(targetChars: number): string {
  const kind = random();
  if (kind < 0.4) {
    const fields = [
      `"level":"info"`,
      `"ts":${Math.floor(random() * 1e9)}`,
      `"msg":"${pick(WORDS)} ${pick(WORDS)}"`,
    ];
    let json = `{${fields.join(",")}`;
    while (json.length < targetChars - 20) json += `,"${pick(WORDS)}":${(random() * 100).toFixed(4)}`;
    return `${json}}`;
  }
  const words = kind < 0.9 ? WORDS : [...WORDS, ...MULTIBYTE];
  let text = pick(words);
  while (text.length < targetChars) text += ` ${pick(words)}`;
  return text;
}

const pad = (n: number, width: number): string => String(n).padStart(width, "0");

/** Lines of one file: the clock advances a few ms per line, so minutes change now and then. */
function buildMix(count: number): string[] {
  const lines: string[] = [];
  let ms = Date.UTC(2024, 4, 1, 12, 0, 0);
  for (let i = 0; i < count; i++) {
    ms += Math.floor(random() * 20);
    const iso = new Date(ms).toISOString().slice(0, 19);
    const fraction = pad(Math.floor(random() * 1e9), 9).replace(/0+$/, "");
    const stream: Stream = random() < 0.8 ? "stdout" : "stderr";
    const tag = random() < 0.05 ? "P" : "F";
    const header = `${iso}${fraction === "" ? "" : `.${fraction}`}Z ${stream} ${tag} `;
    lines.push(header + randomBody(50 + Math.floor(random() * 350) - header.length));
  }
  return lines;
}

/** Lines whose minutes all differ: the worst case for the minute-prefix memo. */
function buildNewMinuteEachLine(count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const iso = new Date(Date.UTC(2024, 4, 1) + i * 61_000).toISOString().slice(0, 19);
    return `${iso}.123456789Z stdout F ${randomBody(160)}`;
  });
}

const CRI_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2})) (stdout|stderr) ([A-Z]+)(?::[^ ]*)?(?: |$)/;

type RegexParsed =
  | { ok: true; timeSec: number; timeNanos: number; stream: Stream; isPartial: boolean; bodyStart: number }
  | { ok: false };

/** The usual alternative: one regex for the header, `Date.UTC` for the time. */
function parseWithRegex(line: string): RegexParsed {
  const m = CRI_RE.exec(line);
  if (m === null) return { ok: false };
  const utcMs = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  const offsetSec = m[8] === undefined ? 0 : (m[8] === "-" ? -1 : 1) * (+m[9] * 3600 + +m[10] * 60);
  return {
    ok: true,
    timeSec: utcMs / 1000 - offsetSec,
    timeNanos: m[7] === undefined ? 0 : +m[7].padEnd(9, "0"),
    stream: m[11] as Stream,
    isPartial: m[12] === "P",
    bodyStart: m[0].length,
  };
}

// Both parsers must agree on the valid cases of the shared table, or the comparison means nothing.
// Years below 100 are left out: Date.UTC maps them to 19xx.
for (const { name, input, want } of VALID_CRI_CASES) {
  const r = parseWithRegex(input);
  const isSame = want.ok && r.ok && r.timeSec === want.timeSec && r.timeNanos === want.timeNanos &&
    r.stream === want.stream && r.isPartial === want.isPartial && input.slice(r.bodyStart) === want.body;
  if (!isSame && !input.startsWith("00")) {
    throw new Error(`Regex parser disagrees with the case table: ${name}`);
  }
}

const LINE_200_B = `2024-05-01T12:34:56.123456789Z stdout F ${randomBody(160)}`.slice(0, 200);
const MIX = buildMix(1000);
const NEW_MINUTES = buildNewMinuteEachLine(1000);
// The agent parses the bytes of its read buffer: encode once here, outside the measured functions.
const encoder = new TextEncoder();
const LINE_200_B_BYTES = encoder.encode(LINE_200_B);
const MIX_BYTES = MIX.map((line) => encoder.encode(line));
const NEW_MINUTES_BYTES = NEW_MINUTES.map((line) => encoder.encode(line));
const mixBytes = MIX.reduce((sum, line) => sum + line.length, 0);
console.log(`mix: ${MIX.length} lines, mean ${(mixBytes / MIX.length).toFixed(0)} chars per line`);

/** Parses every line; the sum keeps the work observable so it is not optimized away. */
function parseAll<L>(lines: L[], parse: (line: L) => { ok: boolean }): number {
  let ok = 0;
  for (const line of lines) if (parse(line).ok) ok++;
  if (ok !== lines.length) throw new Error(`Parse failed: ${lines.length - ok} of ${lines.length} lines`);
  return ok;
}

Deno.bench(
  "cri: parse one 200 B line (hand scanner)",
  { group: "cri parse one line", baseline: true },
  () => {
    parseCriLine(LINE_200_B_BYTES);
  },
);
Deno.bench("cri: parse one 200 B line (regex + Date.UTC)", { group: "cri parse one line" }, () => {
  parseWithRegex(LINE_200_B);
});

Deno.bench(
  "cri: parse 1000 mixed 50-400 B lines (hand scanner)",
  { group: "cri parse mix", baseline: true },
  () => {
    parseAll(MIX_BYTES, (line) => parseCriLine(line));
  },
);
Deno.bench("cri: parse 1000 mixed 50-400 B lines (regex + Date.UTC)", { group: "cri parse mix" }, () => {
  parseAll(MIX, parseWithRegex);
});

Deno.bench(
  "cri: parse 1000 lines, a new minute each (hand scanner)",
  { group: "cri parse new minutes", baseline: true },
  () => {
    parseAll(NEW_MINUTES_BYTES, (line) => parseCriLine(line));
  },
);
Deno.bench(
  "cri: parse 1000 lines, a new minute each (regex + Date.UTC)",
  { group: "cri parse new minutes" },
  () => {
    parseAll(NEW_MINUTES, parseWithRegex);
  },
);
