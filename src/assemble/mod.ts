export {
  type Assembler,
  type AssemblyCounts,
  type AssemblyFile,
  type FileAssembly,
  MAX_CRI_HEADER_BYTES,
  msToHr,
  RecordAssembler,
  type RecordAssemblerOptions,
  type RecordEnrichment,
} from "./assembler.ts";
