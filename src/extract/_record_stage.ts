/**
 * The record-stage contract of the reader rebuild (PLAN.md "Record path"), declared here until
 * `src/record.ts` carries it; the names and shapes are the contract's, so the merge only moves them.
 *
 * @module
 */

import type { LogRecord, PodLogPath } from "../record.ts";

/** Where a record's bytes came from: the file, its byte range, and the parsed kubelet path. */
export interface RecordOrigin {
  fileKey: string;
  startOffset: number;
  endOffset: number;
  sizeBytes: number;
  podPath: PodLogPath | null;
}

/** The next stage of the record path. */
export interface RecordSink {
  push(record: LogRecord, origin: RecordOrigin): void;
}

/** A stage of the record path: it takes a record, may change it, and hands it to its sink. */
export interface RecordStage extends RecordSink {}
