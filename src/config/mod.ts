export {
  applyCliOverrides,
  type CheckConfigIo,
  type CliArgs,
  type CliResult,
  HELP_TEXT,
  parseCliArgs,
  runCheckConfig,
} from "./cli.ts";
export { loadConfigFile, type LoadConfigOptions, parseConfigYaml } from "./load.ts";
export {
  type Config,
  CONFIG_SCHEMA,
  NODE_NAME_ENV,
  type OptionDefault,
  type OptionFormat,
  type OptionSpec,
  type OptionType,
  type RateBudget,
} from "./schema.ts";
export {
  type DurationFailure,
  type DurationResult,
  formatDuration,
  formatSize,
  parseDuration,
  parseSize,
  type SizeFailure,
  type SizeResult,
} from "./units.ts";
export {
  ConfigError,
  type ConfigProblem,
  formatProblem,
  validateConfig,
  type ValidateOptions,
  type ValidateResult,
} from "./validate.ts";
export {
  DEFAULT_DATALOADER_GATE,
  DEFAULT_DATALOADER_PATTERNS,
  MAX_DATALOADER_PATTERN_LENGTH,
} from "./dataloader_patterns.ts";
