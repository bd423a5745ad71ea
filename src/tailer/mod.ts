export { type ExportQueue, type ReadGate, Tailer, type TailerOptions } from "./tailer.ts";
export { TailedFile, type TailedFileState } from "./tailed_file.ts";
export { type Fingerprint, fingerprintOf, guardHashAt, hashBytes, identityKey } from "./file_identity.ts";
