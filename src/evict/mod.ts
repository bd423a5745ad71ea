export { EMITTED_KEY_PREFIX, EmittedKeyStore, type EmittedKeyStoreOptions } from "./emitted_keys.ts";
export {
  buildEventRecord,
  type BuildEventRecordOptions,
  EVICTION_REASON_ATTRIBUTE,
  EVICTION_SOURCE_ATTRIBUTE,
  LAST_LINES_ATTRIBUTE,
  LAST_LINES_CUT_ATTRIBUTE,
  SEVERITY_WARN,
} from "./event_record.ts";
export {
  type DetectOutcome,
  type EvictionEvent,
  EvictionJoin,
  type EvictionJoinOptions,
  type JoinedKey,
  type JoinedRecord,
  keyOf,
} from "./eviction_join.ts";
export { EVENT_RECORD_ORIGIN_FILE_KEY, EvictionStage, type EvictionStageOptions } from "./eviction_stage.ts";
export {
  containerOverheadBytes,
  LastLines,
  type LastLinesOptions,
  LINE_OVERHEAD_BYTES,
  type RememberedLine,
  type RingContext,
  type RingRecord,
  type RingTrimReason,
  type TrimCounts,
} from "./last_lines.ts";
