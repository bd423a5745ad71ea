export { Tailer, type TailerOptions } from "./tailer.ts";
export { type RecordSink, TailedFile, type TailedFileState } from "./tailed_file.ts";
export { type Fingerprint, fingerprintOf, guardHashAt, hashBytes, identityKey } from "./file_identity.ts";
export { type FileStatus, fileStatusOf, type FileStatusState } from "./file_status.ts";
