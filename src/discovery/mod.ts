export { Discovery, type DiscoveryOptions, type FoundFile, type RefusedFile } from "./discovery.ts";
export { type CompiledGlob, compileGlob, compileNamePattern } from "./glob.ts";
export { parsePodLogPath, type PodLogPathFailure, type PodLogPathResult } from "./pod_log_path.ts";
