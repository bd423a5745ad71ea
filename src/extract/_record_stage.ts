/**
 * The record-stage contract (PLAN.md "Record path"), re-exported from `src/record.ts` for the stages of
 * this folder.
 *
 * @module
 */

export type { RecordOrigin, RecordSink, RecordStage } from "../record.ts";
