export { Enricher, type EnricherOptions } from "./enricher.ts";
export { pathResourceAttributes, type PathResourceOptions } from "./path_metadata.ts";
