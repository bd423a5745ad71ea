/**
 * The syntax checks named by `OptionSpec.format`: one checker per format, each reporting problems with
 * the path of the offending element.
 *
 * @module
 */

import { MAX_DATALOADER_PATTERN_LENGTH } from "./dataloader_patterns.ts";
import type { OptionFormat } from "./schema.ts";
import type { ConfigProblem } from "./validate.ts";

/** Checks one value of a `format` option; values are already of the option's type. */
export function checkFormat(
  format: OptionFormat,
  path: string,
  value: unknown,
  problems: ConfigProblem[],
): void {
  const perElement = ELEMENT_CHECKS[format as keyof typeof ELEMENT_CHECKS];
  if (perElement !== undefined && Array.isArray(value)) {
    const seen = new Set<string>();
    value.forEach((element: string, i) => {
      const message = seen.has(element) ? "Duplicate entry" : perElement(element);
      seen.add(element);
      if (message !== undefined) {
        problems.push({ path: `${path}[${i}]`, message: withValue(message, element) });
      }
    });
    return;
  }
  if (format === "http_headers") return checkHeaders(path, value as Record<string, string>, problems);
  const single = SINGLE_CHECKS[format as keyof typeof SINGLE_CHECKS];
  const message = single(value as string);
  if (message !== undefined) problems.push({ path, message });
}

function withValue(message: string, element: string): string {
  return `${message}: ${JSON.stringify(element)}`;
}

const ELEMENT_CHECKS = {
  path_glob: checkPathGlob,
  namespace_pattern: checkNamespacePattern,
  metadata_key_or_regex: checkMetadataKeyOrRegex,
  rank_source: (entry: string) => checkSource(entry, true),
  job_id_source: (entry: string) => checkSource(entry, false),
  dataloader_regex: checkDataloaderRegex,
} satisfies Partial<Record<OptionFormat, (element: string) => string | undefined>>;

const SINGLE_CHECKS = {
  file_path: checkFilePath,
  rank_regex: checkRankRegex,
  otlp_endpoint: checkOtlpEndpoint,
} satisfies Partial<Record<OptionFormat, (value: string) => string | undefined>>;

function checkPathGlob(glob: string): string | undefined {
  if (!glob.startsWith("/")) return "Must be an absolute path pattern";
  if (/[[\]{}\0]/.test(glob)) return "Unsupported glob syntax, only *, ** and ? are supported";
  const hasPartialDoubleStar = glob.split("/").some((segment) => segment.includes("**") && segment !== "**");
  if (hasPartialDoubleStar) return "Pattern ** must be a whole path segment";
  return undefined;
}

function checkNamespacePattern(pattern: string): string | undefined {
  if (pattern.length > 63 || !/^[a-z0-9*]([-a-z0-9*]*[a-z0-9*])?$/.test(pattern)) {
    return "Not a namespace name or * pattern (lowercase letters, digits, -, *; at most 63)";
  }
  return undefined;
}

const LABEL_NAME_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAX_PATTERN_LENGTH = 1024;

/** Kubernetes label / annotation key syntax: `[prefix/]name`. */
function isMetadataKey(key: string): boolean {
  const slash = key.lastIndexOf("/");
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = key.slice(slash + 1);
  if (name.length > 63 || !LABEL_NAME_RE.test(name)) return false;
  return prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN_RE.test(prefix));
}

function checkMetadataKeyOrRegex(entry: string): string | undefined {
  if (entry.length >= 2 && entry.startsWith("/") && entry.endsWith("/")) {
    if (entry.length === 2) return "Empty /regex/";
    if (entry.length > MAX_PATTERN_LENGTH) return `Pattern longer than ${MAX_PATTERN_LENGTH} characters`;
    return undefined;
  }
  return isMetadataKey(entry) ? undefined : "Not a Kubernetes metadata key ([prefix/]name) or /regex/";
}

// Kubernetes accepts these names for container environment variables.
const ENV_NAME_RE = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

function checkSource(entry: string, allowsBody: boolean): string | undefined {
  const colon = entry.indexOf(":");
  const kind = colon < 0 ? entry : entry.slice(0, colon);
  const argument = colon < 0 ? undefined : entry.slice(colon + 1);
  const allowed = allowsBody
    ? "label:<key>, annotation:<key>, env:<NAME>, completion_index, body"
    : "label:<key>, annotation:<key>, env:<NAME>, completion_index";
  switch (kind) {
    case "body":
      if (!allowsBody) return "Source body is only allowed in attribution.rank_source";
      return argument === undefined ? undefined : "Source body takes no argument";
    case "completion_index":
      return argument === undefined ? undefined : "Source completion_index takes no argument";
    case "label":
    case "annotation":
      return argument !== undefined && isMetadataKey(argument)
        ? undefined
        : `Source ${kind} needs a Kubernetes metadata key, like ${kind}:example.com/name`;
    case "env":
      return argument !== undefined && ENV_NAME_RE.test(argument)
        ? undefined
        : "Source env needs a variable name, like env:RANK";
    default:
      return `Unknown source, expected one of ${allowed}`;
  }
}

function checkFilePath(path: string): string | undefined {
  if (path === "") return "Must not be empty";
  if (path.includes("\0")) return "Must not contain NUL";
  return undefined;
}

function checkRankRegex(pattern: string): string | undefined {
  if (pattern === "") return "Must not be empty";
  if (pattern.length > MAX_PATTERN_LENGTH) {
    return `Pattern longer than ${MAX_PATTERN_LENGTH} characters: ${pattern.length}`;
  }
  if (!pattern.includes("(?P<rank>") && !pattern.includes("(?<rank>")) {
    return "Pattern needs a named group rank, like (?P<rank>\\d+)";
  }
  return undefined;
}

function checkDataloaderRegex(pattern: string): string | undefined {
  if (pattern === "") return "Must not be empty";
  if (pattern.length > MAX_DATALOADER_PATTERN_LENGTH) {
    return `Pattern longer than ${MAX_DATALOADER_PATTERN_LENGTH} characters (${pattern.length})`;
  }
  if (!/\(\?P?<(?:data_time_s|iter_time_s)>/.test(pattern)) {
    return "Pattern needs a named group data_time_s or iter_time_s, like (?P<data_time_s>\\d+(?:\\.\\d+)?)";
  }
  return undefined;
}

function checkOtlpEndpoint(endpoint: string): string | undefined {
  // The URL type already checked scheme and shape; only the OTLP signal path is special here.
  if (/\/v1\/logs$/i.test(endpoint)) {
    return `Give the base URL without /v1/logs, records go to <endpoint>/v1/logs: ${endpoint}`;
  }
  return undefined;
}

const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Set by the exporter itself; a user value would corrupt the request.
const RESERVED_HEADERS = new Set([
  "content-type",
  "content-encoding",
  "content-length",
  "host",
  "transfer-encoding",
]);

function checkHeaders(path: string, headers: Record<string, string>, problems: ConfigProblem[]): void {
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    const at = `${path}.${name}`;
    const lower = name.toLowerCase();
    if (!TOKEN_RE.test(name)) problems.push({ path: at, message: "Not a valid HTTP header name" });
    else if (RESERVED_HEADERS.has(lower)) {
      problems.push({ path: at, message: "Header is set by the exporter and cannot be overridden" });
    } else if (seen.has(lower)) problems.push({ path: at, message: "Duplicate header (names ignore case)" });
    if (/[\r\n\0]/.test(value)) {
      problems.push({ path: at, message: "Header value must not contain CR, LF or NUL" });
    }
    seen.add(lower);
  }
}
