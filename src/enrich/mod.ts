export {
  buildEnrichment,
  type BuildEnrichmentOptions,
  checkEnrichmentConfig,
  type Enrichment,
  EnrichmentConfigError,
  type EnrichmentProblem,
} from "./build.ts";
export { Enricher, type EnricherOptions } from "./enricher.ts";
export { pathResourceAttributes, type PathResourceOptions } from "./path_metadata.ts";
export {
  KeyFilter,
  type KeyFilterFailure,
  type KeyFilterResult,
  podResourceAttributes,
  type PodResourceOptions,
} from "./pod_metadata.ts";
export {
  type AttributionSource,
  type AttributionSourceFailure,
  type AttributionSourceKind,
  type AttributionSourcesResult,
  type ContainerAttribution,
  JOB_ID_ATTRIBUTE,
  parseAttributionSources,
  parseRank,
  RANK_ATTRIBUTE,
  RANK_SOURCE_ATTRIBUTE,
  RankResolver,
  type RankResolverOptions,
  type SourceKeys,
  sourceKeys,
} from "./rank.ts";
