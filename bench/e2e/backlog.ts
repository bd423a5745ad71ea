/**
 * Writes a whole generated tree to disk at once (the `ingest` and `idle` backlogs) and builds the model
 * of every record it holds. Deterministic: the same options give the same bytes.
 *
 * @module
 */

import { join } from "node:path";
import { ExpectedModel } from "./expected.ts";
import { CriEncoder } from "./cri_encoder.ts";
import {
  type GeneratedFile,
  type GeneratedRecord,
  type GeneratorOptions,
  mixSeed,
  planTree,
  Prng,
  RecordSource,
} from "./generator.ts";

/** Options for {@linkcode writeBacklog}. */
export interface BacklogOptions extends GeneratorOptions {
  /** CRI lines over all files (each file gets an equal share, a P..F run may overshoot it). @default 2000000 */
  lines?: number;
  /** Unix seconds of the first line's timestamp. @default 1714564800 (2024-05-01T12:00:00Z) */
  startEpochSec?: number;
  /** Largest gap between two lines of a file, in ns (gaps are uniform from 1 us). @default 2000000 */
  maxGapNs?: number;
}

/** What a backlog holds. */
export interface BacklogSummary {
  readonly files: number;
  readonly lines: number;
  readonly records: number;
  readonly bytes: number;
  /** CRI lines that are pieces of P..F runs. */
  readonly piecedLines: number;
  readonly avgLineBytes: number;
}

/** Writes a backlog of CRI files under `root` and returns the model of its records. */
export async function writeBacklog(
  root: string,
  options: BacklogOptions = {},
): Promise<{ model: ExpectedModel; summary: BacklogSummary; files: GeneratedFile[] }> {
  const files = planTree(options);
  const startEpochSec = options.startEpochSec ?? 1714564800;
  const model = new ExpectedModel(files, startEpochSec);
  const totalLines = options.lines ?? 2_000_000;
  let lines = 0;
  let bytes = 0;
  let piecedLines = 0;
  for (const file of files) {
    const quota = Math.floor(totalLines / files.length) + (file.index < totalLines % files.length ? 1 : 0);
    const written = await writeFile(root, file, quota, options, model);
    lines += written.lines;
    bytes += written.bytes;
    piecedLines += written.piecedLines;
  }
  const summary = {
    files: files.length,
    lines,
    records: model.expectedCount,
    bytes,
    piecedLines,
    avgLineBytes: lines === 0 ? 0 : bytes / lines,
  };
  return { model, summary, files };
}

/** Counts of one generated file. */
export interface FileCounts {
  lines: number;
  bytes: number;
  piecedLines: number;
}

/**
 * Generates the CRI bytes of one backlog file in chunks of about 1 MiB (each chunk is a view that is valid
 * until the next one is requested) and adds its records to `model`. Returns the file's counts.
 */
export function* fileChunks(
  file: GeneratedFile,
  lines: number,
  options: BacklogOptions,
  model: ExpectedModel,
): Generator<Uint8Array, FileCounts> {
  const source = new RecordSource(file.index, options);
  const clockPrng = new Prng(mixSeed(options.seed ?? 1, 0x71ee0000 + file.index));
  const maxGapNs = options.maxGapNs ?? 2_000_000;
  const encoder = new CriEncoder(model.baseEpochSec);
  let timeNs = clockPrng.int(0, 999_999_999);
  const nextTimeNs = (): number => (timeNs += clockPrng.int(1000, maxGapNs));
  const onRecord = (record: GeneratedRecord, t: number): void =>
    model.add(file.index, record.stream, t, record.body);
  let bytes = 0;
  let piecedLines = 0;
  while (encoder.lines < lines) {
    const emission = source.next();
    if (emission.pieces.length > 1) piecedLines += emission.pieces.filter((p) => p.record === 0).length;
    encoder.append(emission, nextTimeNs, onRecord);
    if (encoder.length >= 1 << 20) {
      bytes += encoder.length;
      yield encoder.bytes();
      encoder.clear();
    }
  }
  if (encoder.length > 0) {
    bytes += encoder.length;
    yield encoder.bytes();
    encoder.clear();
  }
  return { lines: encoder.lines, bytes, piecedLines };
}

async function writeFile(
  root: string,
  file: GeneratedFile,
  lines: number,
  options: BacklogOptions,
  model: ExpectedModel,
): Promise<FileCounts> {
  await Deno.mkdir(join(root, file.containerDir), { recursive: true });
  using handle = await Deno.open(join(root, file.relPath), { write: true, create: true, truncate: true });
  const chunks = fileChunks(file, lines, options, model);
  while (true) {
    const next = chunks.next();
    if (next.done === true) return next.value;
    await writeAll(handle, next.value);
  }
}

async function writeAll(handle: Deno.FsFile, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await handle.write(data.subarray(offset));
}
