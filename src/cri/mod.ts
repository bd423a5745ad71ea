/**
 * The CRI stage: one kubelet log line -> its time, stream, partial flag and where its body starts.
 *
 * @module
 */

export { type CriHeader, type CriParseFailure, type CriParseResult, parseCriLine } from "./parse_cri_line.ts";
