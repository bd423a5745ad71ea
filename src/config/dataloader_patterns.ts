/**
 * The default dataloader patterns. They live in config/ (the stage in extract/ imports them from here)
 * so that config validation names them without loading RE2 or the extract stage, and the folders import
 * one another in one direction (tests/import_graph_test.ts). See docs/training-signals.md for the forms they cover.
 *
 * @module
 */

// A number as trainers print it: 0.012, 12, 1.5e-3. No sign: a time is never negative.
const NUMBER = String.raw`\d+(?:\.\d+)?(?:[eE][-+]?\d+)?`;

/**
 * The default patterns, each matched anywhere in a body (first value of each group wins):
 * `data_time` / `data_time_s` and `iter_time` / `iter_time_s` keys with `=` or `:` (JSON keys in quotes
 * too), and a bare ` time` key (mmengine / detectron2 `time: 0.34`, Lightning `time=0.34`) as the
 * iteration time. The set applies only to bodies that contain `_time`: a bare `time:` alone is too
 * common a word to be trusted without a `data_time` beside it.
 */
export const DEFAULT_DATALOADER_PATTERNS: readonly string[] = [
  String.raw`data_time(?:_s)?"?[ \t]*[=:][ \t]*(?P<data_time_s>${NUMBER})`,
  String.raw`iter_time(?:_s)?"?[ \t]*[=:][ \t]*(?P<iter_time_s>${NUMBER})`,
  String.raw` "?time"?[ \t]*[=:][ \t]*(?P<iter_time_s>${NUMBER})`,
];

/** The literal every default-set candidate contains. */
export const DEFAULT_DATALOADER_GATE = "_time";

/** Longest dataloader pattern accepted. */
export const MAX_DATALOADER_PATTERN_LENGTH = 512;
