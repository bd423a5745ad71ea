export {
  type LiteralPrefilter,
  Re2CompileError,
  type Re2CompileFailure,
  Re2Fields,
  type Re2FieldsOptions,
} from "./re2_fields.ts";
