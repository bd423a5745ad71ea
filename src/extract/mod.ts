export {
  type LiteralPrefilter,
  loadRe2Engine,
  patternNeedsRe2,
  Re2CompileError,
  type Re2CompileFailure,
  Re2Fields,
  type Re2FieldsOptions,
} from "./re2_fields.ts";
export type { RecordOrigin, RecordSink, RecordStage } from "./_record_stage.ts";
export {
  type JsonBodyResult,
  JsonBodyStage,
  type JsonBodyStageOptions,
  type JsonCutReason,
  type JsonLimits,
  type JsonSkipReason,
  type ParsedJsonBody,
  parseJsonBody,
  startsLikeObject,
} from "./json_body.ts";
export {
  checkDataloaderPatterns,
  DATA_TIME_ATTRIBUTE,
  DATALOADER_GROUPS,
  DataloaderExtractor,
  type DataloaderExtractorOptions,
  type DataloaderProblem,
  DataloaderStage,
  type DataloaderStageOptions,
  type DataloaderTimings,
  DEFAULT_DATALOADER_PATTERNS,
  doubleAttr,
  ITER_TIME_ATTRIBUTE,
  MAX_DATALOADER_PATTERN_CHARS,
  type TimingObserver,
} from "./dataloader.ts";
